"""The layer everything stands on: settings, request context, errors, data blocks, the
database and search terms. It imports nothing else of the project."""
