"""`python -m docsdesk` runs the `docsdesk` command."""

from docsdesk.cli import main

main()
