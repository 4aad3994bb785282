"""Alembic versions of the MCP access tables (API keys; `docsdesk.mcp.keys`)."""
