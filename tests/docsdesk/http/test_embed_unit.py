"""embed.js's request handling, unit by unit, in headless Chromium.

The script is given a recording `fetch` (its `fetch` option) that answers like docsdesk would, so
each test sees exactly what would go over the wire: headers in every form the caller may use,
uploads left alone, Accept-Language, the page block, sessions and JWT mode."""

from __future__ import annotations

import json

import pytest

from tests.support import REPO
from tests.support.static_site import StaticSite

PAGE = """<!doctype html>
<html lang="de">
<head><meta charset="utf-8"><title>Unit page</title>
<meta name="description" content="A page for unit tests.">
<script src="embed.js"></script></head>
<body><main><h1>Unit page</h1><h2>Section</h2></main></body>
</html>
"""

# A recording fetch: `/session` answers a new or renewed session (or what `script.session`
# says), `/chatkit` answers `script.chatkit` statuses in turn (200 once they run out).
HARNESS = """
window.harness = function (script) {
  const calls = [];
  let sessions = 0;
  const fake = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    const headers = new Headers(init && init.headers);
    calls.push({ url, method: init && init.method, headers: Object.fromEntries(headers),
                 body: init && init.body, rawInit: init });
    await new Promise((r) => setTimeout(r, 20));  // let concurrent callers pile up
    if (url.endsWith("/session")) {
      const status = (script.session || []).shift() || 200;
      if (status !== 200) return new Response('{"error":{"code":"x","message":"x"}}', { status });
      sessions += 1;
      const auth = headers.get("authorization");
      const user = auth ? auth.replace("Bearer tok-", "").split("-")[0] : "u" + sessions;
      return Response.json({ token: "tok-" + user + "-" + sessions, user_id: user,
                             expires_at: "2099-01-01T00:00:00Z", expires_in: script.ttl || 3600 });
    }
    const status = (script.chatkit || []).shift() || 200;
    return new Response("{}", { status, headers: { "Content-Type": "application/json" } });
  };
  return { calls, fetch: fake };
};
"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """A browser on a page of a local site that loads embed.js (one browser for the module)."""
    from tests.support.browser import chromium

    root = tmp_path_factory.mktemp("unit-site")
    with StaticSite(root) as site, chromium() as browser:
        site.write("embed.js", (REPO / "docsdesk" / "static" / "embed.js").read_text())
        site.write("harness.js", HARNESS)
        site.write("index.html", PAGE.replace("</head>", '<script src="harness.js"></script></head>'))
        browser.get(f"{site.origin}/index.html#top")
        yield browser, site.origin


def run(page, body: str, **args):
    """Run `body` (an async function body using `args`, `docsdesk`, `harness`) in the page;
    a fresh localStorage each time. Returns its JSON-able result."""
    browser, _ = page
    script = (
        "const [args, done] = arguments;\n"
        "localStorage.clear();\n"
        "(async () => {\n" + body + "\n})().then(\n"
        "  (value) => done(JSON.stringify(value === undefined ? null : value)),\n"
        "  (error) => done(JSON.stringify({ thrown: String((error && error.stack) || error) })));\n"
    )
    result = json.loads(browser.execute_async_script(script, args))
    assert not (isinstance(result, dict) and "thrown" in result), result["thrown"]
    return result


CHATKIT_CALL = """
const h = harness(args.script || {});
const f = docsdesk.createFetch(Object.assign({ url: "http://docsdesk.test/chatkit", fetch: h.fetch }, args.options || {}));
"""


@pytest.mark.parametrize("form", ["object", "array", "Headers"])
def test_caller_headers_are_kept_whatever_their_form(page, form):
    result = run(
        page,
        CHATKIT_CALL
        + """
const pairs = [["Content-Type", "application/json"], ["X-Trace", "abc"]];
const headers = args.form === "object" ? Object.fromEntries(pairs)
  : args.form === "array" ? pairs : new Headers(pairs);
await f("http://docsdesk.test/chatkit", { method: "POST", headers, body: '{"type":"threads.list","params":{}}' });
return h.calls;
""",
        form=form,
    )
    session, chatkit = result
    assert session["url"] == "http://docsdesk.test/session" and session["method"] == "POST"
    headers = chatkit["headers"]
    assert headers["x-trace"] == "abc" and headers["content-type"] == "application/json"
    assert headers["authorization"] == "Bearer tok-u1-1"
    assert headers["accept-language"]


def test_accept_language_follows_the_browser_unless_the_caller_set_one(page):
    result = run(
        page,
        CHATKIT_CALL
        + """
await f("http://docsdesk.test/chatkit", { method: "POST", body: "{}" });
await f("http://docsdesk.test/chatkit", { method: "POST", body: "{}", headers: { "Accept-Language": "fr-CA" } });
return { sent: h.calls.slice(1).map((c) => c.headers["accept-language"]), languages: navigator.languages };
""",
    )
    first = result["sent"][0].split(",")
    assert first[0] == result["languages"][0]
    assert all(";q=0." in tag for tag in first[1:])
    assert result["sent"][1] == "fr-CA"


def test_uploads_and_other_non_json_bodies_are_left_alone(page):
    result = run(
        page,
        CHATKIT_CALL
        + """
const form = new FormData();
form.append("file", new Blob(["hello"], { type: "text/plain" }), "hello.txt");
await f("http://docsdesk.test/upload", { method: "POST", body: form });
const upload = h.calls[1].rawInit;
await f("http://docsdesk.test/chatkit", { method: "POST", body: '{"type":"x"}', headers: { "Content-Type": "text/plain" } });
await f("http://docsdesk.test/chatkit", { method: "POST", body: "not json" });
return { sameForm: upload.body === form, contentType: upload.headers.get("content-type"),
         file: await upload.body.get("file").text(), plain: h.calls[2].body, text: h.calls[3].body };
""",
    )
    assert result["sameForm"] is True and result["file"] == "hello"
    assert result["contentType"] is None  # the browser sets the multipart boundary itself
    assert result["plain"] == '{"type":"x"}' and result["text"] == "not json"


def test_the_page_is_added_to_json_requests_beside_the_callers_metadata(page):
    _, origin = page
    result = run(
        page,
        CHATKIT_CALL
        + """
await f("http://docsdesk.test/chatkit", { method: "POST", headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ type: "threads.create", params: {}, metadata: { campaign: "spring" } }) });
await f("http://docsdesk.test/chatkit", { method: "POST",
  body: JSON.stringify({ type: "threads.list", params: {}, metadata: { page: { title: "Caller's" } } }) });
return h.calls.slice(1).map((c) => JSON.parse(c.body));
""",
    )
    first, second = result
    assert first["metadata"]["campaign"] == "spring"
    assert first["metadata"]["page"] == {
        "url": f"{origin}/index.html#top",
        "title": "Unit page",
        "path": "/index.html",
        "description": "A page for unit tests.",
        "language": "de",
        "headings": ["Unit page", "Section"],
    }
    assert second["metadata"]["page"] == {"title": "Caller's"}  # the caller's own page wins


def test_the_page_option_overrides_and_oversized_pages_are_clipped(page):
    result = run(
        page,
        CHATKIT_CALL
        + """
const big = { title: "T".repeat(5000), headings: Array.from({ length: 500 }, (_, i) => "Heading " + i + " " + "x".repeat(400)),
              description: "d".repeat(5000), url: "https://docs.example/" + "p".repeat(5000) };
const g = docsdesk.createFetch({ url: "http://docsdesk.test/chatkit", fetch: h.fetch, page: () => big });
await g("http://docsdesk.test/chatkit", { method: "POST", body: '{"type":"threads.list","params":{}}' });
const none = docsdesk.createFetch({ url: "http://docsdesk.test/chatkit", fetch: h.fetch, page: () => null });
await none("http://docsdesk.test/chatkit", { method: "POST", body: '{"type":"threads.list","params":{}}' });
const sent = h.calls.filter((c) => c.url.endsWith("/chatkit")).map((c) => c.body);
return { big: JSON.parse(sent[0]).metadata.page, bytes: new TextEncoder().encode(JSON.stringify(JSON.parse(sent[0]).metadata.page)).length,
         none: JSON.parse(sent[1]) };
""",
    )
    page_sent = result["big"]
    assert result["bytes"] <= 6000
    assert len(page_sent["title"]) == 300 and len(page_sent["url"]) == 2048
    assert 0 < len(page_sent["headings"]) <= 40 and all(len(h) <= 200 for h in page_sent["headings"])
    assert "metadata" not in result["none"]


def test_a_request_object_keeps_its_headers_and_body(page):
    result = run(
        page,
        CHATKIT_CALL
        + """
const request = new Request("http://docsdesk.test/chatkit", { method: "POST",
  headers: { "Content-Type": "application/json", "X-From": "request" }, body: '{"type":"threads.list","params":{}}' });
await f(request, { headers: { "X-From-Init": "init" } });
return h.calls[1];
""",
    )
    assert result["method"] == "POST" and result["headers"]["x-from"] == "request"
    assert result["headers"]["x-from-init"] == "init"
    assert json.loads(result["body"])["metadata"]["page"]["title"] == "Unit page"


def test_concurrent_first_requests_take_one_session_and_reuse_it(page):
    result = run(
        page,
        CHATKIT_CALL
        + """
await Promise.all([1, 2, 3, 4, 5].map(() => f("http://docsdesk.test/chatkit", { method: "POST", body: "{}" })));
const again = docsdesk.createFetch({ url: "http://docsdesk.test/chatkit", fetch: h.fetch });  // a new page load
await again("http://docsdesk.test/chatkit", { method: "POST", body: "{}" });
return h.calls.map((c) => [c.url.split("/").pop(), c.headers.authorization || null]);
""",
    )
    assert [url for url, _ in result].count("session") == 1
    assert {auth for url, auth in result if url == "chatkit"} == {"Bearer tok-u1-1"}


def test_a_401_renews_the_session_once_and_retries_once(page):
    result = run(
        page,
        CHATKIT_CALL
        + """
const first = await f("http://docsdesk.test/chatkit", { method: "POST", body: "{}" });
const stored = JSON.parse(localStorage.getItem("docsdesk.session:http://docsdesk.test/session"));
const calls = h.calls.map((c) => [c.url.split("/").pop(), c.headers.authorization || null]);
return { status: first.status, calls, stored };
""",
        script={"chatkit": [401]},
    )
    assert result["status"] == 200
    assert result["calls"] == [
        ["session", None],
        ["chatkit", "Bearer tok-u1-1"],
        ["session", "Bearer tok-u1-1"],  # renewal: the same reader
        ["chatkit", "Bearer tok-u1-2"],
    ]
    assert result["stored"]["userId"] == "u1" and result["stored"]["token"] == "tok-u1-2"


def test_a_second_401_is_returned_not_retried_forever(page):
    result = run(
        page,
        CHATKIT_CALL
        + """
const response = await f("http://docsdesk.test/chatkit", { method: "POST", body: "{}" });
return { status: response.status, chatkit: h.calls.filter((c) => c.url.endsWith("/chatkit")).length };
""",
        script={"chatkit": [401, 401, 401]},
    )
    assert result == {"status": 401, "chatkit": 2}


def test_a_session_past_half_its_life_is_renewed_and_a_refused_one_replaced(page):
    result = run(
        page,
        CHATKIT_CALL
        + """
const key = "docsdesk.session:http://docsdesk.test/session";
const now = Date.now();
localStorage.setItem(key, JSON.stringify({ token: "tok-old-0", userId: "old", expiresAt: now + 100000, renewAt: now - 1 }));
await f("http://docsdesk.test/chatkit", { method: "POST", body: "{}" });
const renewed = JSON.parse(localStorage.getItem(key));
localStorage.setItem(key, JSON.stringify({ token: "tok-gone-0", userId: "gone", expiresAt: now - 1, renewAt: now - 2 }));
await f("http://docsdesk.test/chatkit", { method: "POST", body: "{}" });
const replaced = JSON.parse(localStorage.getItem(key));
return { renewed, replaced, calls: h.calls.map((c) => [c.url.split("/").pop(), c.headers.authorization || null]) };
""",
        script={"session": [200, 401]},
    )
    assert result["renewed"]["userId"] == "old"
    assert result["replaced"]["userId"] not in ("gone", "old")
    assert result["calls"] == [
        ["session", "Bearer tok-old-0"],
        ["chatkit", f"Bearer {result['renewed']['token']}"],
        ["session", "Bearer tok-gone-0"],  # refused (expired too long ago)...
        ["session", None],  # ... so a new reader
        ["chatkit", f"Bearer {result['replaced']['token']}"],
    ]


def test_a_renewal_the_server_cannot_make_now_keeps_a_working_token(page):
    result = run(
        page,
        CHATKIT_CALL
        + """
const key = "docsdesk.session:http://docsdesk.test/session";
const now = Date.now();
localStorage.setItem(key, JSON.stringify({ token: "tok-old-0", userId: "old", expiresAt: now + 600000, renewAt: now - 1 }));
const response = await f("http://docsdesk.test/chatkit", { method: "POST", body: "{}" });
return { status: response.status, calls: h.calls.map((c) => [c.url.split("/").pop(), c.headers.authorization || null]) };
""",
        script={"session": [429]},
    )
    assert result["status"] == 200
    assert result["calls"] == [["session", "Bearer tok-old-0"], ["chatkit", "Bearer tok-old-0"]]


def test_no_session_to_be_had_returns_the_servers_answer(page):
    result = run(
        page,
        CHATKIT_CALL
        + """
const response = await f("http://docsdesk.test/chatkit", { method: "POST", body: "{}" });
return { status: response.status, chatkit: h.calls.filter((c) => c.url.endsWith("/chatkit")).length };
""",
        script={"session": [429]},
    )
    assert result == {"status": 429, "chatkit": 0}


def test_jwt_mode_uses_get_token_and_asks_for_a_fresh_one_after_a_401(page):
    result = run(
        page,
        """
const h = harness({ chatkit: [401] });
const asked = [];
const f = docsdesk.createFetch({ url: "http://docsdesk.test/chatkit", fetch: h.fetch,
  getToken: async ({ refresh }) => { asked.push(refresh); return refresh ? "jwt-2" : "jwt-1"; } });
const response = await f("http://docsdesk.test/chatkit", { method: "POST", body: "{}" });
return { status: response.status, asked, stored: localStorage.length,
         calls: h.calls.map((c) => [c.url.split("/").pop(), c.headers.authorization || null]) };
""",
    )
    assert result["status"] == 200 and result["asked"] == [False, True] and result["stored"] == 0
    assert result["calls"] == [["chatkit", "Bearer jwt-1"], ["chatkit", "Bearer jwt-2"]]


def test_the_session_endpoint_derives_from_the_chatkit_url(page):
    result = run(
        page,
        """
const h = harness({});
for (const url of ["https://a.example/chatkit", "https://a.example/api/chatkit/", "/docsdesk/chatkit?x=1"]) {
  await docsdesk.createFetch({ url, fetch: h.fetch })(url, { method: "POST", body: "{}" });
}
return { sessions: h.calls.filter((c) => !c.url.includes("chatkit")).map((c) => c.url), origin: location.origin,
         version: docsdesk.version };
""",
    )
    assert result["sessions"] == [
        "https://a.example/session",
        "https://a.example/api/session",
        f"{result['origin']}/docsdesk/session",
    ]
    assert result["version"] == "1.1.1"


def test_a_missing_url_is_a_clear_error(page):
    result = run(page, "try { docsdesk.createFetch({}); } catch (e) { return String(e); }")
    assert "options.url" in result


def test_behind_a_gateway_an_empty_token_sends_no_authorization(page):
    result = run(
        page,
        """
const h = harness({});
const f = docsdesk.createFetch({ url: "http://docsdesk.test/chatkit", fetch: h.fetch, getToken: () => "" });
await f("http://docsdesk.test/chatkit", { method: "POST", body: "{}" });
return h.calls.map((c) => [c.url.split("/").pop(), c.headers.authorization || null]);
""",
    )
    assert result == [["chatkit", None]]


def test_the_assistant_option_sends_to_its_endpoint_and_keeps_the_session(page):
    result = run(
        page,
        CHATKIT_CALL
        + """
await f("http://docsdesk.test/chatkit", { method: "POST", body: '{"type":"threads.list","params":{}}' });
await f(new Request("http://docsdesk.test/chatkit", { method: "POST", body: '{"type":"threads.list","params":{}}',
                    headers: { "Content-Type": "application/json" } }));
return h.calls.map((c) => c.url);
""",
        options={"assistant": "api docs"},
    )
    assert result == [
        "http://docsdesk.test/session",  # one reader session for every assistant of the server
        "http://docsdesk.test/a/api%20docs/chatkit",
        "http://docsdesk.test/a/api%20docs/chatkit",
    ]


def test_start_screen_gives_chatkits_option_from_the_server(page):
    result = run(
        page,
        """
const calls = [];
const fake = async (input) => {
  calls.push(String(input));
  if (String(input).includes("/a/nosuch/")) return new Response("{}", { status: 404 });
  return Response.json({ assistant: "api", title: "Acme API", greeting: "Ask about the API",
                         prompts: [{ label: "Rotate a key", prompt: "Rotate a key" }] });
};
const named = await docsdesk.startScreen("api", { url: "http://docsdesk.test/chatkit", fetch: fake });
const main = await docsdesk.startScreen(null, { url: "http://docsdesk.test/chatkit", fetch: fake });
let refused = null;
try { await docsdesk.startScreen("nosuch", { url: "http://docsdesk.test/chatkit", fetch: fake }); }
catch (error) { refused = String(error.message); }
return { named, main, calls, refused };
""",
    )
    option = {
        "greeting": "Ask about the API",
        "prompts": [{"label": "Rotate a key", "prompt": "Rotate a key"}],
    }
    assert result["named"] == option and result["main"] == option
    assert result["calls"][:2] == [
        "http://docsdesk.test/a/api/start-screen",
        "http://docsdesk.test/start-screen",
    ]
    assert "answered 404" in result["refused"]
