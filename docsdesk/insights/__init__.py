"""Docs-team insights over the turn records: report, export, retention, the admin API and console, the CLI."""
