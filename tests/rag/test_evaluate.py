"""`docsdesk eval`: the TSV question format, page/anchor matching, the figures, and the command
in a real subprocess over the fixture doc set."""

from __future__ import annotations

import json

import pytest

from rag.evaluate import Case, Outcome, QuestionSetError, Report, matches, parse_questions, rank_of
from rag.ingest import ingest
from tests.rag.test_search import run_cli
from tests.support import FIXTURE_DOCS, new_id

BASE = "https://lantern.example/"


def test_parse_questions() -> None:
    cases = parse_questions(
        "question\texpected\n# a comment\n\nhow do retries work\thttps://a/x/ , https://a/y/#z,https://a/x/\n"
    )
    assert cases == [Case("how do retries work", ("https://a/x/", "https://a/y/#z"), 4)]
    for bad, message in [
        ("no tab here\n", "line 1: expected a question, a tab"),
        ("q\tu\tv\tw\n", "found 4"),
        ("\thttps://a/\n", "line 1: the question is empty"),
        ("q\t , \n", "line 1: no expected URL"),
        ("question\texpected\n", "no questions"),
    ]:
        with pytest.raises(QuestionSetError, match=message):
            parse_questions(bad, "q.tsv")


def test_pages_match_any_anchor_and_anchors_match_their_section() -> None:
    assert matches("https://a/x/#retries", "https://a/x/")
    assert matches("https://a/x", "https://a/x/")
    assert not matches("https://a/xy/", "https://a/x/")
    assert matches("https://a/x/#retries", "https://a/x/#retries")
    assert not matches("https://a/x/#other", "https://a/x/#retries")
    pages, rank = rank_of(
        ["https://a/p/#1", "https://a/p/#2", "https://a/q/", "https://a/x/#r"], ("https://a/x/",)
    )
    assert pages == ["https://a/p/#1", "https://a/q/", "https://a/x/#r"] and rank == 3


def test_report_figures() -> None:
    report = Report(
        [
            Outcome(Case("a", ("u",)), ["u"], 1),
            Outcome(Case("b", ("u",)), ["v", "u"], 2),
            Outcome(Case("c", ("u",)), ["v"], None),
        ]
    )
    assert (report.recall_at_1, report.recall_at_k) == (1 / 3, 2 / 3)
    assert report.mrr == pytest.approx((1 + 0.5) / 3)
    assert [o.case.question for o in report.misses] == ["b", "c"]
    text = "\n".join(report.lines())
    assert (
        "recall@1 0.333" in text
        and "rank 2: b" in text
        and "not in the top 5: c" in text
        and "got 1: v" in text
    )


QUESTIONS = (
    "question\texpected\n"
    "How many times is a failing job retried?\t" + BASE + "concepts/retries/\n"
    "what happens to running jobs on SIGTERM\t" + BASE + "concepts/workers/#graceful-shutdown\n"
    "show the sources a report was built from\t" + BASE + "guides/add-annotations/\n"
    "how to deal with a thumbs-down\t" + BASE + "guides/feedback/\n"
    "install on windows with conda\t" + BASE + "does-not-exist/\n"
)


async def test_eval_command_over_the_fixture_docs(database, tmp_path):
    collection = new_id("c")
    await ingest(database.engine, [FIXTURE_DOCS], base_url=BASE, collection=collection)
    questions = tmp_path / "questions.tsv"
    questions.write_text(QUESTIONS, encoding="utf-8")

    status, out, err = await run_cli(
        database, tmp_path, "eval", str(questions), "--collection", collection, "--json"
    )
    assert status == 0, err
    report = json.loads(out)
    assert report["collection"] == collection and report["questions"] == 5
    assert report["recall@1"] == 0.8 and report["recall@5"] == 0.8 and report["mrr"] == 0.8
    [miss] = report["misses"]
    assert miss["question"] == "install on windows with conda" and miss["rank"] is None
    assert miss["results"] and all(url.startswith(BASE) for url in miss["results"])

    status, out, err = await run_cli(database, tmp_path, "eval", str(questions), "--collection", collection)
    assert status == 0, err
    assert "recall@1 0.800  recall@5 0.800  MRR 0.800" in out
    assert "not in the top 5: install on windows with conda" in out and "got 1: " + BASE in out

    questions.write_text("question\texpected\njust a question\n", encoding="utf-8")
    status, out, err = await run_cli(database, tmp_path, "eval", str(questions), "--collection", collection)
    assert status == 1 and err.strip().count("\n") == 0
    assert "line 2: expected a question, a tab and the expected URL(s)" in err


def test_phrase_column_and_out_of_scope_questions() -> None:
    cases = parse_questions(
        "question\texpected\tphrase\nhow many retries\thttps://a/x/\tfive attempts\nkafka?\t-\t\n"
    )
    assert cases[0].phrase == "five attempts" and not cases[0].out_of_scope
    assert cases[1].out_of_scope and cases[1].expected == () and cases[1].phrase == ""
    report = Report([Outcome(cases[0], ["https://a/x/"], 1), Outcome(cases[1], ["https://a/y/"], None)])
    assert report.recall_at_1 == 1.0 and report.as_dict()["questions"] == 1 and not report.misses


PHRASED = (
    "question\texpected\tphrase\n"
    "How many attempts does the default retry policy make?\t" + BASE + "concepts/retries/\tfive attempts\n"
    "what happens to running jobs on SIGTERM\t" + BASE + "concepts/workers/\tgrace-seconds\n"
    "How many annotations can a report keep?\t" + BASE + "guides/add-annotations/\tnot in the docs at all\n"
    "Does the GraphQL gateway support subscriptions over websockets?\t-\t\n"
)


async def test_eval_reports_the_offline_answers(database, tmp_path):
    collection = new_id("c")
    await ingest(database.engine, [FIXTURE_DOCS], base_url=BASE, collection=collection)
    questions = tmp_path / "phrased.tsv"
    questions.write_text(PHRASED, encoding="utf-8")
    status, out, err = await run_cli(
        database, tmp_path, "eval", str(questions), "--collection", collection, "--json"
    )
    assert status == 0, err
    report = json.loads(out)
    assert report["questions"] == 3 and report["out_of_scope_questions"] == 1
    assert report["answer_hit_rate"] == round(2 / 3, 4) and report["false_refusal_rate"] == 0.0
    assert report["out_of_scope_refusal_rate"] == 1.0
    [miss] = report["answer_misses"]
    assert miss["miss"] == "phrase missing" and miss["outcome"] == "answered"
    assert "at most 50 annotations" in miss["answer"]
    status, out, err = await run_cli(database, tmp_path, "eval", str(questions), "--collection", collection)
    assert status == 0, err
    assert "phrase hit rate 0.667 (of 3)" in out and "out-of-scope refused 1.000 (of 1)" in out
    assert "phrase missing: How many annotations can a report keep?" in out
