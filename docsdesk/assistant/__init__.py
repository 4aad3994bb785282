"""The assistant: model building, the search tool, citations and attachment input."""
