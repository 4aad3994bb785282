"""docsdesk: a self-hosted ChatKit backend for documentation assistants."""

__version__ = "0.2.0"
