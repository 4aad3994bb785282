"""The console per assistant, in headless Chromium: the switcher scopes the report, a
coverage gap opens its conversation with each turn's outcome and searches, the playground
asks the chosen assistant and the overview counts the question afterwards."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from pydantic import SecretStr
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from app import create_app
from tests.docsdesk.http.test_assistants import API, GUIDES, config_text, index
from tests.docsdesk.insights.conftest import ADMIN_TOKEN
from tests.docsdesk.insights.seed import seed, seed_thread, turn
from tests.support import LiveServer


def questions(browser) -> str:
    cards = browser.find_element(By.ID, "cards").text.split("\n")
    return cards[0]  # the first card's value: questions


def drive(browser, url: str) -> dict:
    wait = WebDriverWait(browser, 30)
    browser.get(url + "/admin")
    wait.until(ec.visibility_of_element_located((By.ID, "token"))).send_keys(ADMIN_TOKEN)
    browser.find_element(By.ID, "login-button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "gaps"), "Can Acme run on a toaster?"))
    seen = {
        "options": [o.text for o in Select(browser.find_element(By.ID, "assistant")).options],
        "docs_gaps": browser.find_element(By.ID, "gaps").text,
        "docs_collection": browser.find_element(By.ID, "collection").text,
        "grouping": browser.find_element(By.ID, "grouping").text,
    }
    Select(browser.find_element(By.ID, "assistant")).select_by_value("api")
    wait.until(ec.text_to_be_present_in_element((By.ID, "gaps"), "Is there a GraphQL API?"))
    seen["api_gaps"] = browser.find_element(By.ID, "gaps").text
    seen["api_collection"] = browser.find_element(By.ID, "collection").text
    seen["hash"] = browser.execute_script("return location.hash")
    before = questions(browser)
    browser.find_element(By.CSS_SELECTOR, "#gaps button[data-thread]").click()
    wait.until(ec.visibility_of_element_located((By.ID, "dialog")))
    wait.until(ec.text_to_be_present_in_element((By.ID, "dialog-body"), "answer recorded as"))
    seen["dialog"] = browser.find_element(By.ID, "dialog-body").text
    browser.find_element(By.ID, "dialog-close").click()
    browser.find_element(By.ID, "question").send_keys("How do I rotate an API key?")
    browser.find_element(By.ID, "ask").click()
    wait.until(lambda b: b.find_element(By.ID, "progress").get_attribute("textContent") == "done")
    seen["sources"] = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#sources a")]
    wait.until(lambda b: questions(b) != before)
    seen["before"], seen["after"] = before, questions(browser)
    return seen


async def test_the_assistant_switcher(settings, engine, tmp_path, browser):
    guides = await index(engine, tmp_path, "guides", GUIDES, "https://guides.acme.test/")
    api = await index(engine, tmp_path, "api", API, "https://api.acme.test/")
    path = tmp_path / "docsdesk.toml"
    path.write_text(config_text(guides, api))
    app = create_app(settings.model_copy(update={"config_file": path, "admin_token": SecretStr(ADMIN_TOKEN)}))
    docs_thread, api_thread = await seed_thread(engine), await seed_thread(engine)
    async with engine.begin() as conn:
        await conn.exec_driver_sql("UPDATE threads SET assistant = 'api' WHERE id = $1", (api_thread,))
    records = [
        replace(
            turn(docs_thread, "Can Acme run on a toaster?", guides, outcome="not_covered"), assistant="docs"
        ),
        replace(turn(api_thread, "Is there a GraphQL API?", api, outcome="not_covered"), assistant="api"),
    ]
    await seed(engine, records)
    async with LiveServer(app) as live:
        seen = await asyncio.to_thread(drive, browser, live.url)
    assert seen["options"] == ["Acme Docs (docs)", "Acme API (api)"]
    assert seen["docs_collection"] == guides and seen["api_collection"] == api
    assert "Is there a GraphQL API?" not in seen["docs_gaps"]
    assert "Can Acme run on a toaster?" not in seen["api_gaps"]
    assert seen["hash"] == "#assistant=api"
    assert "Is there a GraphQL API?" in seen["dialog"] and "answer recorded as: not covered" in seen["dialog"]
    assert "searched the docs for “Is there a GraphQL API?”: 0 passages found" in seen["dialog"]
    assert seen["sources"] and all(u.startswith("https://api.acme.test/") for u in seen["sources"])
    assert int(seen["after"]) == int(seen["before"]) + 1
    assert "pg_trgm" not in seen["grouping"] and seen["grouping"].startswith("Similar questions are grouped")
