"""The console's Sources view in headless Chromium against the real server, its in-process
worker and a local docs site: a source never synced, "Sync now" follows the job until it is
done, the last sync's counts, failures and robots.txt skips are listed (a hostile redirect
target stays text), and a refused sync (404, 401) is shown in the page. A collection's
uploads: the last one's counts and failed files (a hostile file name stays text), a queued one
cancelled with its Cancel button (refused with a rotated token: the row says so), and a queued
sync cancelled in its source's row."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr
from selenium.common.exceptions import (
    ElementNotInteractableException,
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from docsdesk.jobs.store import get_job
from docsdesk.jobs.worker import run_worker
from rag import ingest as ingest_module
from rag.ingest import IngestError
from rag.source_state import remove_source
from rag.source_sync import create_source, sync_source
from tests.docsdesk.http.test_admin_jobs import admin_app  # noqa: F401 - the app with its worker
from tests.docsdesk.http.test_admin_sources import over_budget_file, serving_app  # noqa: F401 - fixture
from tests.docsdesk.http.test_admin_upload import DOCS, post_upload, upload_rows
from tests.docsdesk.insights.conftest import ADMIN_TOKEN, admin, collection  # noqa: F401 - fixtures
from tests.docsdesk.jobs.support import wait_for_job
from tests.support import new_id
from tests.support.docs_site import DocsSite, generated_site

HOSTILE = "https://elsewhere.example/<img src=x onerror=window.pwned=1>"


def row_text(browser, name: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, f'#sources-table tr[data-source="{name}"]').text


def text_when(wait: WebDriverWait, locator: tuple[str, str], part: str) -> str:
    """The element's text once it holds `part`, read in the same step: the console redraws its
    table as jobs move on, so an element found in one step may be gone in the next."""

    def holding(driver) -> str | bool:
        text = driver.find_element(*locator).text
        return text if part in text else False

    return wait.until(holding)


def sign_in_and_sync(browser, url: str, name: str, broken: str) -> dict:
    wait = WebDriverWait(browser, 60, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException])
    browser.get(url + "/admin")
    wait.until(ec.visibility_of_element_located((By.ID, "token"))).send_keys(ADMIN_TOKEN)
    browser.find_element(By.ID, "login-button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "sources-table"), name))
    seen = {"before": row_text(browser, name), "broken": row_text(browser, broken)}
    button = browser.find_element(
        By.CSS_SELECTOR, f'#sources-table tr[data-source="{name}"] td.actions button'
    )
    button.click()
    note = (By.CSS_SELECTOR, f'#sources-table [data-note="{name}"]')
    seen["running"] = text_when(wait, note, f"syncing {name}")
    seen["done"] = text_when(wait, note, "done (job")
    # The list is loaded again when the job is done: the last sync and its documents.
    documents = (By.CSS_SELECTOR, f'#sources-table tr[data-documents="{name}"]')
    wait.until(ec.presence_of_element_located(documents))
    seen["after"] = wait.until(lambda driver: row_text(driver, name))

    def opened(driver) -> str:
        row = driver.find_element(*documents)
        row.find_element(By.TAG_NAME, "summary").click()
        return row.text

    seen["documents"] = wait.until(opened)
    seen["images"] = len(browser.find_elements(By.CSS_SELECTOR, "#sources-table img"))
    seen["pwned"] = browser.execute_script("return window.pwned === undefined ? null : window.pwned")
    return seen


def sync_refused(browser, name: str, why: str) -> str:
    wait = WebDriverWait(browser, 30, poll_frequency=0.1)
    browser.find_element(
        By.CSS_SELECTOR, f'#sources-table tr[data-source="{name}"] td.actions button'
    ).click()
    note = (By.CSS_SELECTOR, f'#sources-table [data-note="{name}"]')
    wait.until(ec.text_to_be_present_in_element(note, why))
    element = browser.find_element(*note)
    return element.text + " | " + (element.get_attribute("class") or "")


async def test_sync_now_in_the_console(admin_app, engine, browser, tmp_path):  # noqa: F811
    url, app = admin_app
    name, collection_name = new_id("site"), new_id("c")
    robots = "User-agent: *\nDisallow: /docs/page-2/\n"
    with DocsSite(generated_site(4), robots=robots) as site:
        site.redirects["/docs/page-3/"] = HOSTILE
        for path in site.pages:
            site.delays[path] = 0.5
        settings = {"crawl": f"{site.origin}/docs/", "concurrency": 1}
        await create_source(engine, name, collection_name, "site", settings)
        broken = new_id("broken")
        await create_source(engine, broken, new_id("c"), "site", {"sitemap": f"{site.origin}/gone.xml"})
        with pytest.raises(IngestError):
            await sync_source(engine, broken, cache_dir=tmp_path)
        seen = await asyncio.to_thread(sign_in_and_sync, browser, url, name, broken)
        await remove_source(engine, name)  # the page still lists it: its sync is refused (404)
        refused = await asyncio.to_thread(sync_refused, browser, name, "has no source named")
        # The admin token is rotated under the open console: the next sync is refused (401).
        rotated = SecretStr("rotated-admin-token-0123456789")
        app.state.settings = app.state.settings.model_copy(update={"admin_token": rotated})
        unauthorised = await asyncio.to_thread(sync_refused, browser, name, "token was refused")
    assert "failing: 1 sync failed" in seen["broken"]
    assert f"sitemap {site.origin}/gone.xml answered HTTP 404" in seen["broken"]
    assert (
        "never" in seen["before"] and "crawl" in seen["before"] and f"{site.origin}/docs/" in seen["before"]
    )
    assert f"syncing {name}" in seen["running"] and "0 of 1 sources done" in seen["running"]
    assert (
        f"{name}: 3 fetched, 0 unchanged, 3 added, 0 changed, 0 removed, 1 failed, 1 skipped" in seen["done"]
    )
    assert "3 fetched · 0 unchanged · 3 added · 0 changed · 0 removed · 1 failed · 1 skipped" in seen["after"]
    assert "ok" in seen["after"]
    assert f"skipped: {site.origin}/docs/page-2/: disallowed by robots.txt" in seen["documents"]
    assert (
        f"failed: {site.origin}/docs/page-3/: redirects off the site to {HOSTILE} (not followed)"
        in seen["documents"]
    )
    assert seen["images"] == 0 and seen["pwned"] is None  # the redirect target is text, never markup
    assert (
        f"Could not sync: collection '{collection_name}' has no source named '{name}'" in refused
        and "error" in refused
    )
    assert "Could not sync: the admin token was refused; sign in again" in unauthorised


HOSTILE_PAGE = "docs/<img src=x onerror=window.pwned=1>.md"


def queued_upload_in_console(browser, url: str, row: str, job: int) -> dict:
    """Sign in; the folder row shows the last upload, its failed file and the queued job."""
    wait = WebDriverWait(browser, 60, poll_frequency=0.1)
    browser.get(url + "/admin")
    wait.until(ec.visibility_of_element_located((By.ID, "token"))).send_keys(ADMIN_TOKEN)
    browser.find_element(By.ID, "login-button").click()
    selector = f'#sources-table tr[data-source="{row}"]'
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, selector), f"upload queued (job {job})"))
    documents = f'#sources-table tr[data-documents="{row}"]'
    ignored = (NoSuchElementException, StaleElementReferenceException)
    WebDriverWait(browser, 30, poll_frequency=0.1, ignored_exceptions=ignored).until(
        lambda b: b.find_element(By.CSS_SELECTOR, documents + " summary").click() or True
    )
    return {"before": shown(browser, selector)[0], "documents": shown(browser, documents)[0]}


def shown(browser, selector: str) -> tuple[str, str]:
    """(text, class) of an element, read at once: the list is rendered again as jobs end."""
    script = (
        "const e = document.querySelector(arguments[0]); return e ? [e.innerText, e.className] : ['', ''];"
    )
    text, cls = browser.execute_script(script, selector)
    return text, cls


def click_cancel(browser, row: str, job: int, why: str) -> dict:
    """Click the job's Cancel button (found again if the list was rendered anew meanwhile);
    wait for `why` in the row's note."""
    button = f'#sources-table tr[data-source="{row}"] [data-job="{job}"] button.cancel'
    ignored = (NoSuchElementException, StaleElementReferenceException, ElementNotInteractableException)
    wait = WebDriverWait(browser, 60, poll_frequency=0.1, ignored_exceptions=ignored)
    wait.until(lambda b: b.find_element(By.CSS_SELECTOR, button).click() or True)
    note = f'#sources-table [data-note="{row}"]'
    wait.until(lambda b: why in shown(b, note)[0])
    text, cls = shown(browser, note)
    seen = {"note": text, "class": cls, "row": shown(browser, f'#sources-table tr[data-source="{row}"]')[0]}
    seen["images"] = len(browser.find_elements(By.CSS_SELECTOR, "#sources-table img"))
    seen["pwned"] = browser.execute_script("return window.pwned === undefined ? null : window.pwned")
    return seen


def wait_for_note(browser, row: str, words: str) -> None:
    note = f'#sources-table [data-note="{row}"]'
    WebDriverWait(browser, 30, poll_frequency=0.1).until(lambda b: words in shown(b, note)[0])


def refresh_and_cancel(browser, row: str, job: int) -> dict:
    browser.find_element(By.ID, "sources-refresh").click()
    seen = click_cancel(browser, row, job, f"cancelled (job {job})")
    WebDriverWait(browser, 30, poll_frequency=0.1).until(  # listed again: the job is no longer open
        lambda b: not b.find_elements(By.CSS_SELECTOR, f'[data-job="{job}"]')
    )
    seen["after"] = shown(browser, f'#sources-table tr[data-source="{row}"]')[0]
    return seen


async def test_uploads_in_the_console_last_result_and_cancel(
    serving_app,  # noqa: F811
    engine,
    browser,
    tmp_path,
    monkeypatch,
):
    url, app = serving_app
    monkeypatch.setattr(ingest_module, "FILE_BUDGET_SECONDS", 0.05)
    name = new_id("up")
    row = f"{name} (folder)"
    stop = asyncio.Event()  # a worker for the first upload only: the second one stays queued
    worker = asyncio.create_task(run_worker(engine, tmp_path, None, stop))
    async with admin(url) as http:
        done = (await post_upload(http, name, {**DOCS, HOSTILE_PAGE: over_budget_file()})).json()
        assert (await wait_for_job(engine, done["job"], ("succeeded", "failed"))).state == "succeeded"
        stop.set()
        await asyncio.wait_for(worker, 30)
        job = (await post_upload(http, name, DOCS)).json()["job"]
        source, synced = new_id("s"), new_id("c")  # and a sync job, queued (its site is never asked)
        await create_source(engine, source, synced, "site", {"sitemap": "http://127.0.0.1:9/x.xml"})
        sync = (await http.post(f"/admin/api/collections/{synced}/sync")).json()["job"]
    seen = await asyncio.to_thread(queued_upload_in_console, browser, url, row, job)
    seen["sync"] = (await asyncio.to_thread(shown, browser, f'#sources-table tr[data-source="{source}"]'))[0]
    # The admin token is rotated under the open console: Cancel is refused, shown in the row.
    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"admin_token": SecretStr("rotated-admin-token-0123456")})
    await asyncio.to_thread(wait_for_note, browser, row, "Could not follow the job")
    refused = await asyncio.to_thread(click_cancel, browser, row, job, "Could not cancel")
    assert (await get_job(engine, job)).state == "queued"
    app.state.settings = settings
    cancelled = await asyncio.to_thread(refresh_and_cancel, browser, row, job)
    sync_cancelled = await asyncio.to_thread(click_cancel, browser, source, sync, f"cancelled (job {sync})")
    assert "3 added · 0 changed · 0 removed · 0 unchanged · 1 failed" in seen["before"]
    assert "last upload: " in seen["before"] and f"(job {done['job']})" in seen["before"]
    assert f"upload queued (job {job}) Cancel" in seen["before"]
    assert f"failed: {HOSTILE_PAGE} (took over 0.05 s to parse)" in seen["documents"]
    assert refused["note"] == f"Could not cancel job {job}: the admin token was refused; sign in again"
    assert refused["class"] == "error"
    # the click's own note, or the followed job's if its poll saw the cancellation first
    assert cancelled["note"] in (f"cancelled (job {job})", f"upload cancelled (job {job})")
    assert "Cancel" not in cancelled["after"]
    assert f"cancelled (job {job})" in cancelled["after"] and "ok" in cancelled["after"]
    assert cancelled["images"] == 0 and cancelled["pwned"] is None  # file names are text, never markup
    assert (await get_job(engine, job)).state == "cancelled"
    assert f"queued (job {sync}) Cancel" in seen["sync"]
    assert sync_cancelled["note"] == f"cancelled (job {sync})" and "Cancel" not in sync_cancelled["row"]
    assert (await get_job(engine, sync)).state == "cancelled"
    assert await upload_rows(engine, name) == (2, 0, 0)  # the cancelled job's archive is gone
