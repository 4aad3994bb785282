"""Browser assets shipped as package data (the admin console, the embed script)."""
