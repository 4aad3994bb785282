"""Client values in the log: control characters escaped and lengths capped in both formats, so a
value cannot forge a log line or flood the log; a client mistake on a streaming request is one
INFO access line, not an ERROR with a traceback."""

from __future__ import annotations

import json
import re

from app import create_app
from docsdesk.ops.observability import json_line, text_line
from tests.support.chatkit_client import signed_in, user_input

FORGED = "2026-11-30 01:02:03 ERROR docsdesk.access: POST /admin 200 user=root"
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} ")


def test_text_lines_escape_control_characters_in_fields_and_messages():
    for hostile in (f"t\n{FORGED}", f"t\r{FORGED}", f"t\u2028{FORGED}", "a\x1b[31mred\x00"):
        line = text_line(0.0, "INFO", "docsdesk.access", f"GET /{hostile} 404", {"thread_id": hostile})
        assert "\n" not in line and "\r" not in line and "\u2028" not in line
        assert "\x1b" not in line and "\x00" not in line
    # Plain values stay readable and unquoted.
    assert text_line(0.0, "INFO", "x", "m", {"thread_id": "thr_abc123"}).endswith(" thread_id=thr_abc123")


def test_long_client_values_are_capped_in_both_formats():
    huge = "A" * 900_000
    for render in (text_line, json_line):
        line = render(0.0, "INFO", "docsdesk.access", f"POST /{huge} 400", {"thread_id": huge, "path": huge})
        assert len(line) < 4_000, len(line)
        assert "chars)" in line  # says how much was cut


async def test_hostile_client_values_over_http_cannot_forge_lines(settings, capsys):
    app = create_app(settings.model_copy(update={"log_format": "text"}))
    async with signed_in(app) as client:
        capsys.readouterr()
        hostile = f"thr_x\n{FORGED}"
        response = await client.request("threads.get_by_id", {"thread_id": hostile})
        assert response.status_code == 404
        huge = await client.request("threads.get_by_id", {"thread_id": "t" * 900_000})
        assert huge.status_code == 400  # field_too_large (input limits), and not logged whole
        path = await client.http.post("/nowhere%0A" + FORGED.replace(" ", "%20"))
        assert path.status_code == 404
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert not [line for line in lines if line.startswith(FORGED[:20]) or "POST /admin" in line.split(":")[0]]
    # Every line is a log line of its own: timestamped, nothing starts mid-value.
    assert all(STAMP.match(line) for line in lines), [line[:120] for line in lines if not STAMP.match(line)]
    assert len(err) < 20_000, len(err)  # the 900 KB thread id is not in the log


async def test_client_mistake_on_a_stream_is_one_info_line(settings, capsys):
    app = create_app(settings.model_copy(update={"log_format": "json"}))
    async with signed_in(app) as client:
        capsys.readouterr()
        missing = await client.request(
            "threads.add_user_message", {"thread_id": "thr_missing", "input": user_input("Hello?")}
        )
        assert missing.status_code == 404
        retried = await client.request(
            "threads.retry_after_item", {"thread_id": "thr_missing", "item_id": "msg_x"}
        )
        assert retried.status_code == 404
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert not [line for line in logged if line["level"] == "error" or "exc" in line], logged
    access = [line for line in logged if line["logger"] == "docsdesk.access" and line["path"] == "/chatkit"]
    assert [line["status"] for line in access] == [404, 404]
    assert all(line["level"] == "info" for line in access)
