"""`GET /start-screen` and `GET /a/{name}/start-screen`: what an assistant's widget shows
before the first question (docsdesk.toml's `title`, `greeting` and `starter_prompts`), in the
shape of ChatKit's `startScreen` option, so `/embed.js`'s `docsdesk.startScreen(name)` gives a
site the assistant's own words without repeating them in its HTML.

Public, like /embed.js: the operator's words for the widget, no reader data. An unknown
assistant is 404."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from docsdesk.assistant.definition import Assistant
from docsdesk.http.deps import ServicesDep

router = APIRouter()

HEADERS = {
    "Cache-Control": "public, max-age=60",  # a reload shows within a minute
    "Access-Control-Allow-Origin": "*",
    "X-Content-Type-Options": "nosniff",
}


def start_screen(assistant: Assistant) -> dict[str, object]:
    return {
        "assistant": assistant.name,
        "title": assistant.title,
        "greeting": assistant.greeting,
        "prompts": [{"label": text, "prompt": text} for text in assistant.starter_prompts],
    }


@router.get("/start-screen")
async def default_start_screen(services: ServicesDep) -> JSONResponse:
    registry = services.assistants
    return JSONResponse(start_screen(registry.get(registry.default)), headers=HEADERS)


@router.get("/a/{name}/start-screen")
async def named_start_screen(name: str, services: ServicesDep) -> JSONResponse:
    return JSONResponse(start_screen(services.assistants.get(name)), headers=HEADERS)
