"""`docsdesk config check` and `docsdesk config reload`: the assistants' config file.

`check` validates the file (`--config`, DOCSDESK_CONFIG or ./docsdesk.toml; without one, the
DOCSDESK_* variables describe the assistant `default`) and prints the resolved assistants.
`reload` asks a running server (its admin API) to read the file again.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from docsdesk.core.config_file import DeploymentConfig


def register(subparsers: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    config = subparsers.add_parser(
        "config",
        help="check or reload the assistants' config file (docsdesk.toml)",
        formatter_class=formatter,
        description="The assistants of this deployment: check the config file and print them, or "
        "make a running server read it again.",
    )
    actions = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check", help="validate the config file and print the resolved assistants", formatter_class=formatter
    )
    check.add_argument("--json", action="store_true", help="print the assistants as JSON")
    check.set_defaults(func=run_check)
    reload = actions.add_parser(
        "reload",
        help="make a running server read the config file again (its admin API)",
        formatter_class=formatter,
        description="POST /admin/api/config/reload on a running docsdesk: new turns use the new "
        "definitions, turns already streaming finish on the old ones; a bad file is refused and "
        "the server keeps its current assistants. (With --workers > 1, send SIGHUP to the main "
        "`docsdesk serve` process instead: every worker restarts gracefully.)",
    )
    reload.add_argument("--url", default="http://127.0.0.1:8000", help="the running server")
    reload.add_argument("--token", help="admin token (default: DOCSDESK_ADMIN_TOKEN)")
    reload.set_defaults(func=run_reload)


def resolved(args: argparse.Namespace) -> DeploymentConfig:
    """The deployment's assistants as this command's options and environment give them."""
    from docsdesk.cli.common import settings
    from docsdesk.core.config_file import load_config

    return load_config(settings(), getattr(args, "config", None))


def describe(config: DeploymentConfig) -> list[dict[str, Any]]:
    return [
        {
            "name": a.name,
            "default": a.name == config.default,
            "endpoint": "/chatkit" if a.name == config.default else f"/a/{a.name}/chatkit",
            "title": a.title,
            "collections": list(a.collections),
            "instructions": str(a.instructions_file)
            if a.instructions_file
            else ("inline" if a.instructions else "built in"),
            "model": a.model or "the deployment's (DOCSDESK_MODEL)",
            "greeting": a.greeting,
            "starter_prompts": list(a.starter_prompts),
            "origins": list(a.origins),
            "rate_limit_turns": a.rate_limit_turns or "DOCSDESK_RATE_LIMIT_TURNS",
        }
        for a in config.assistants
    ]


def run_check(args: argparse.Namespace) -> None:
    config = resolved(args)
    rows = describe(config)
    if args.json:
        source = str(config.path) if config.path else "environment"
        print(json.dumps({"source": source, "assistants": rows}, indent=2, ensure_ascii=False))
        return
    source = str(config.path) if config.path else "no config file: the DOCSDESK_* variables"
    print(f"docsdesk: {source}: {len(rows)} assistant{'s' if len(rows) != 1 else ''}, all valid")
    for row in rows:
        mark = " (default)" if row["default"] else ""
        print(f"{row['name']}{mark}  POST {row['endpoint']}")
        for key in ("title", "collections", "instructions", "model", "greeting", "starter_prompts"):
            value = row[key]
            if value:
                print(f"  {key}: {', '.join(value) if isinstance(value, list) else value}")
        if row["origins"]:
            print(f"  origins: {', '.join(row['origins'])}")
        print(f"  rate_limit_turns: {row['rate_limit_turns']}")


def run_reload(args: argparse.Namespace) -> None:
    import httpx

    from docsdesk.cli.common import fail

    token = args.token or os.environ.get("DOCSDESK_ADMIN_TOKEN")
    if not token:
        fail("config reload needs the admin token: --token or DOCSDESK_ADMIN_TOKEN")
    url = f"{args.url.rstrip('/')}/admin/api/config/reload"
    try:
        response = httpx.post(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {args.url}: {exc}")
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200:
        message = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
        fail(f"{url}: {response.status_code}: {message or response.text[:300]}")
    names = ", ".join(body.get("assistants", []))
    print(f"docsdesk: reloaded {body.get('source', 'the config')}: {names}", file=sys.stderr)
