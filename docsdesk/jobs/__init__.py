"""Syncs of sources as jobs on a PostgreSQL-backed queue (pgqueuer; docs/sources.md says why):
`store` keeps what docsdesk tells about each job, `queue` enqueues and cancels, `worker` runs
them (`docsdesk worker`, or inside `docsdesk serve`) and fires the sources' schedules."""
