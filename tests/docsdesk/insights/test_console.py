"""The insights console in headless Chromium: sign in, see a seeded coverage gap, ask in the
playground and watch the answer stream with its sources and the search's passages."""

from __future__ import annotations

import asyncio

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from docsdesk.core.turn import NotCoveredReason
from docsdesk.insights.reasons import NOT_RECORDED
from tests.docsdesk.insights.conftest import ADMIN_TOKEN
from tests.docsdesk.insights.seed import seed, seed_thread, turn


def drive(browser, url: str) -> dict:
    """The whole browser session (Selenium blocks: it runs in a worker thread while the
    event loop serves the app)."""
    wait = WebDriverWait(browser, 30)
    browser.get(url + "/admin")
    token = wait.until(ec.visibility_of_element_located((By.ID, "token")))
    token.send_keys("not-the-token-at-all")
    browser.find_element(By.ID, "login-button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "login-error"), "not the admin token"))
    token.clear()
    token.send_keys(ADMIN_TOKEN)
    browser.find_element(By.ID, "login-button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "gaps"), "Is there a Helm chart for Lantern?"))
    seen = {
        "gaps": browser.find_element(By.ID, "gaps").text,
        "missing": browser.find_element(By.ID, "missing").text,
        "reasons": browser.find_element(By.ID, "reasons").text,
        "bars": len(browser.find_elements(By.CSS_SELECTOR, "#volume-chart rect")),
        "outcome_bars": len(browser.find_elements(By.CSS_SELECTOR, "#outcome-chart rect")),
        "cards": browser.find_element(By.ID, "cards").text,
    }
    browser.find_element(By.ID, "question").send_keys("How does Lantern retry failed jobs?")
    browser.find_element(By.ID, "ask").click()
    try:
        wait.until(lambda b: b.find_element(By.ID, "progress").get_attribute("textContent") == "done")
    except TimeoutException:
        raise AssertionError(
            f"progress={browser.find_element(By.ID, 'progress').text!r} "
            f"answer={browser.find_element(By.ID, 'answer').text[:300]!r} log={browser.get_log('browser')}"
        ) from None
    seen["answer"] = browser.find_element(By.ID, "answer").text
    seen["sources"] = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#sources a")]
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#passages .passage")))
    seen["passages"] = browser.find_element(By.ID, "passages").text
    wait.until(ec.presence_of_element_located((By.ID, "turn-outcome")))
    seen["recorded"] = browser.find_element(By.ID, "turn-searches").text
    seen["console_errors"] = [
        entry["message"]
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" and entry.get("source") != "network"  # the wrong token's 401
    ]
    return seen


async def test_console_shows_gaps_and_the_playground_streams_an_answer(
    admin_app, engine, collection, browser
):
    url, app = admin_app
    thread = await seed_thread(engine)
    await seed(
        engine,
        [
            turn(
                thread,
                "Is there a Helm chart for Lantern?",
                collection,
                outcome="not_covered",
                not_in_docs=["Helm"],
                reason=NotCoveredReason.UNKNOWN_PRODUCT,
            ),
            turn(thread, "Is there a helm chart for lantern", collection, outcome="not_covered"),
            turn(
                thread,
                "and for <b>OpenShift</b>?",
                collection,
                outcome="not_covered",
                follows="Is there a Helm chart for Lantern?",
                reason=NotCoveredReason.ABSENT_TERMS,
            ),
        ],
    )
    seen = await asyncio.to_thread(drive, browser, url)
    assert "Is there a Helm chart for Lantern?" in seen["gaps"]
    # A follow-up, with the question it followed above it (reader text as text, not HTML).
    assert "after “Is there a Helm chart for Lantern?”:\nand for <b>OpenShift</b>?" in seen["gaps"]
    product = NotCoveredReason.UNKNOWN_PRODUCT.label
    assert f"{product} (1)" in seen["gaps"]  # the gap's reasons: the one recorded
    assert f"{product} 1" in seen["reasons"] and f"{NOT_RECORDED} 1" in seen["reasons"]
    assert "helm 1 Is there a Helm chart for Lantern?" in seen["missing"]
    assert (
        seen["bars"] >= 1 and seen["outcome_bars"] == 5
    )  # answered, not covered, error, cancelled, small talk
    assert "questions" in seen["cards"]
    assert "retr" in seen["answer"].lower()  # the offline model quotes the retries page
    assert seen["sources"] and all(s.startswith("https://docs.example.com/") for s in seen["sources"])
    assert "score" in seen["passages"] and "Retries" in seen["passages"]
    assert "recorded as: answered" in seen["recorded"] and "searched" in seen["recorded"]
    assert seen["console_errors"] == []  # no CSP violation, no script error
