"""The console's Reader terms view in headless Chromium against the real server: the served
collection's rows listed, a row added (stored, and a hostile phrase stays text), a bad row
refused with the server's reason shown, a row removed."""

from __future__ import annotations

import asyncio

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from rag.reader_terms import add_term, checked_term, list_terms
from tests.docsdesk.insights.conftest import ADMIN_TOKEN, admin_app, collection  # noqa: F401 - fixtures
from tests.support.browser import chromium

HOSTILE = "<i>kudos</i>"  # markup, within the 3 words a phrase may have


def table_text(driver) -> str:
    return driver.find_element(By.ID, "terms-table").text


def sign_in_and_add(browser, url: str) -> str:
    """Sign in, see the served collection's row, add a hostile phrase; the selected collection."""
    wait = waiting(browser)
    browser.get(url + "/admin")
    wait.until(ec.visibility_of_element_located((By.ID, "token"))).send_keys(ADMIN_TOKEN)
    browser.find_element(By.ID, "login-button").click()
    wait.until(lambda d: "shout out" in table_text(d))
    assert "mention" in table_text(browser)
    chosen = browser.find_element(By.ID, "terms-collection").get_attribute("value")
    add(browser, HOSTILE, "annotations, citations")
    wait.until(lambda d: HOSTILE in table_text(d))
    assert not browser.find_elements(By.CSS_SELECTOR, "#terms-table i")  # text, not markup
    return chosen


def waiting(browser) -> WebDriverWait:
    return WebDriverWait(browser, 30, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException])


def add(browser, reader: str, docs: str) -> None:
    browser.find_element(By.ID, "terms-reader").send_keys(reader)
    browser.find_element(By.ID, "terms-docs").send_keys(docs)
    browser.find_element(By.ID, "terms-add").click()


def refused_then_removed(browser) -> str:
    """A 4-word phrase refused (the status line's text), then the row of 'shout out' removed."""
    wait = waiting(browser)
    add(browser, "one two three four", "x")
    status = wait.until(lambda d: d.find_element(By.ID, "terms-status").text or False)
    browser.find_element(By.CSS_SELECTOR, '#terms-table button[data-reader="shout out"]').click()
    wait.until(lambda d: "shout out" not in table_text(d))
    return status


async def test_reader_terms_listed_added_refused_and_removed(admin_app, collection, engine):  # noqa: F811
    url, _ = admin_app
    await add_term(engine, collection, checked_term("shout out", "mention"))
    with chromium() as browser:
        # The browser waits in a thread: the server answers in this event loop.
        assert await asyncio.to_thread(sign_in_and_add, browser, url) == collection
        stored = {row.reader: row.docs for row in await list_terms(engine, collection)}
        assert stored[HOSTILE] == ("annotations", "citations")

        status = await asyncio.to_thread(refused_then_removed, browser)
        assert status.startswith("Not added") and "more than 3 words" in status
        assert [row.reader for row in await list_terms(engine, collection)] == [HOSTILE]
