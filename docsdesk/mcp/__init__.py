"""The docs where developers work: docsdesk's index over the Model Context Protocol (`/mcp`,
`docsdesk mcp` over stdio) and as llms.txt, with API keys per assistant (`docsdesk keys`).

Importing this package imports nothing: `docsdesk.core.database` finds its migrations here.
"""
