"""A small docs set about a job queue, for tests that run real turns over it."""

PAGES = {
    "queues.md": """\
        # Queues

        ## Creating a queue
        Create a queue with `jobq create NAME`; queue names are lowercase.

        ## Retrying jobs
        Failed jobs are retried three times with exponential backoff before they are parked.

        ## Dead letters
        Parked jobs move to the dead-letter queue, where `jobq replay` sends them back.

        ## Priorities
        Each queue has a priority from 1 to 9; higher priorities are served first.
        """,
}
