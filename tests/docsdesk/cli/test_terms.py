"""`docsdesk terms` as a real process against real PostgreSQL: add, list, export, import (every
bad line reported by number, nothing written), remove, per tenant; one-line errors."""

from __future__ import annotations

import json

import pytest

from tests.docsdesk.cli.test_cli import run_cli
from tests.support import ingested_pages


@pytest.fixture
async def site(engine, tmp_path):
    return await ingested_pages(
        engine, tmp_path / "docs", {"a.md": "# Endorsements\n\nEndorse.\n"}, "https://d.test/"
    )


def test_terms_add_list_export_import_and_remove(database, site, tmp_path):
    env = {"DATABASE_URL": database.url, "DOCSDESK_DATA_DIR": str(tmp_path), "COLUMNS": "200"}
    scope = ("--collection", site)

    added = run_cli("terms", "add", "give kudos", "endorse,", "endorsement", *scope, **env)
    assert added.returncode == 0, added.stderr
    assert f"added 'give kudos' -> endorse, endorsement (collection '{site}')" in added.stdout
    again = run_cli("terms", *scope, "add", "giving kudos", "praise", **env)  # options before the action
    assert "replaced the terms of 'giving kudos'" in again.stdout, again.stderr
    tenant = run_cli("terms", "add", "kudos", "badge", *scope, "--tenant", "acme", **env)
    assert f"(collection '{site}', tenant 'acme')" in tenant.stdout, tenant.stderr

    listed = run_cli("terms", "list", *scope, **env)
    assert listed.returncode == 0 and "giving kudos" in listed.stdout and "praise" in listed.stdout
    assert "badge" not in listed.stdout
    assert run_cli("terms", "export", *scope, **env).stdout == "reader\tdocs\ngiving kudos\tpraise\n"

    bad = tmp_path / "bad.tsv"
    bad.write_text("reader\tdocs\nkudos\tendorse\nthumbs up\n\tx\nkudo\ty\nfine\tok\n", encoding="utf-8")
    refused = run_cli("terms", "import", str(bad), *scope, **env)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"{bad}:3: 1 columns; a row is reader<TAB>docs" in refused.stderr
    assert f"{bad}:4: the reader phrase is empty" in refused.stderr
    assert f"{bad}:5: the phrase 'kudo' is already on line 2" in refused.stderr
    assert "3 bad lines; nothing imported" in refused.stderr
    assert run_cli("terms", "export", *scope, **env).stdout == "reader\tdocs\ngiving kudos\tpraise\n"

    good = tmp_path / "good.tsv"
    good.write_text("reader\tdocs\ngive kudos\tendorsement\nkudos\tendorse\n", encoding="utf-8")
    imported = run_cli("terms", "import", str(good), "--replace", *scope, **env)
    assert "1 added, 1 replaced, 0 removed" in imported.stdout, imported.stderr
    assert run_cli("terms", "export", *scope, **env).stdout == good.read_text(encoding="utf-8")

    removed = run_cli("terms", "remove", "KUDOS", *scope, **env)
    assert removed.returncode == 0 and "removed 'KUDOS'" in removed.stdout
    missing = run_cli("terms", "remove", "kudos", *scope, **env)
    assert missing.returncode == 1 and f"no reader phrase 'kudos' in collection '{site}'" in missing.stderr
    assert "badge" in run_cli("terms", *scope, "--tenant", "acme", **env).stdout


def test_terms_errors_are_one_line(database, site, tmp_path):
    env = {"DATABASE_URL": database.url, "DOCSDESK_DATA_DIR": str(tmp_path)}
    cases = [
        (("add", "one two three four", "x", "--collection", site), "more than 3 words"),
        (("add", "kudos", "a\tb", "--collection", site), "tab, a line break"),
        (
            ("add", "kudos", "x", "--collection", "no-such-collection"),
            "no collection named 'no-such-collection'",
        ),
        (("add", "kudos", "x", "--collection", site, "--tenant", "a b"), "--tenant contains spaces"),
        (("import", str(tmp_path / "missing.tsv"), "--collection", site), "cannot read"),
    ]
    for args, message in cases:
        result = run_cli("terms", *args, **env)
        assert result.returncode == 1, result.stdout
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    no_header = tmp_path / "no-header.tsv"
    no_header.write_text("kudos\tendorse\n", encoding="utf-8")
    result = run_cli("terms", "import", str(no_header), "--collection", site, **env)
    assert f"{no_header}:1: the first line must be the header reader<TAB>docs" in result.stderr


@pytest.fixture
async def two_pages(engine, tmp_path):
    pages = {"a.md": "# Endorsements\n\nEndorse a colleague.\n", "b.md": "# Billing\n\nInvoices monthly.\n"}
    return await ingested_pages(engine, tmp_path / "docs", pages, "https://d.test/")


def test_search_and_eval_as_a_tenants_readers(database, two_pages, tmp_path):
    site = two_pages
    env = {"DATABASE_URL": database.url, "DOCSDESK_DATA_DIR": str(tmp_path), "DOCSDESK_EMBEDDINGS": "none"}
    scope = ("--collection", site)
    assert run_cli("terms", "add", "kudos", "endorse", *scope, "--tenant", "acme", **env).returncode == 0

    def first_urls(*tenant: str) -> list[str]:
        result = run_cli("search", "kudos", "--json", *scope, *tenant, **env)
        assert result.returncode == 0, result.stderr
        return [r["url"] for r in json.loads(result.stdout)]

    assert first_urls() == []  # the collection's readers at large: no page says "kudos"
    assert first_urls("--tenant", "acme")[0].startswith("https://d.test/a/")

    questions = tmp_path / "q.tsv"
    questions.write_text("question\texpected\tphrase\nkudos for a colleague\thttps://d.test/a/\tcolleague\n")
    plain = json.loads(run_cli("eval", str(questions), "--json", *scope, **env).stdout)
    acme = json.loads(run_cli("eval", str(questions), "--json", *scope, "--tenant", "acme", **env).stdout)
    # "kudos" is a word no page uses: for readers at large, the docs lack half of the question
    assert (plain["recall@1"], plain["false_refusals"], plain["answer_hit_rate"]) == (1, 1, 0)
    assert (acme["recall@1"], acme["false_refusals"], acme["answer_hit_rate"]) == (1, 0, 1)

    bad = run_cli("search", "kudos", *scope, "--tenant", "a b", **env)
    assert (
        bad.returncode == 1 and bad.stderr.strip() == "error: --tenant contains spaces or control characters"
    )
