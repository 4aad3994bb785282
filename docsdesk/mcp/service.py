"""What a serving app holds for MCP and llms.txt, built at start-up (lifespan.py): the
assistants, the key check, the tools, the SDK's server with its Streamable HTTP session manager
running, and the llms.txt cache. The routes are in docsdesk.http.mcp.

The session manager is stateless with JSON responses: no MCP session lives in one process, so
any instance or worker answers any request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from sqlalchemy.ext.asyncio import AsyncEngine

from docsdesk.assistant.definition import Assistants
from docsdesk.core.settings import Settings
from docsdesk.insights.turns import TurnRecorder
from docsdesk.mcp.assistants import McpAssistants
from docsdesk.mcp.keys import KeyCheck
from docsdesk.mcp.llms import LlmsTxt
from docsdesk.mcp.server import build_server
from docsdesk.mcp.tools import DocsTools
from docsdesk.ops.observability import log_salt
from rag.search import DocsSearch


@dataclass
class McpService:
    settings: Settings
    assistants: McpAssistants
    keys: KeyCheck
    tools: DocsTools
    server: MCPServer
    llms: LlmsTxt
    salt: bytes  # for the callers' hashes in the insights and the access log


@asynccontextmanager
async def mcp_service(
    settings: Settings,
    engine: AsyncEngine,
    search: DocsSearch,
    registry: Assistants,
    recorder: TurnRecorder | None,
) -> AsyncIterator[McpService]:
    """The MCP server and what it needs, with the SDK's session manager running."""
    assistants = McpAssistants.from_registry(registry, settings)
    tools = DocsTools(engine, search, assistants, recorder)
    server = build_server(tools)
    # Bearer keys, not cookies, authorise: the SDK's DNS-rebinding guard (for servers on a
    # developer's loopback, reachable from any web page) does not apply.
    server.streamable_http_app(
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    keys = KeyCheck(engine)
    llms = LlmsTxt(engine, search.public_url)
    service = McpService(settings, assistants, keys, tools, server, llms, log_salt(settings))
    try:
        async with server.session_manager.run():
            yield service
    finally:
        await keys.aclose()
