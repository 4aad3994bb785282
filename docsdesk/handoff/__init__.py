"""Hand-off to a person: the ticket a reader sends when the documentation is not enough, the
channels that deliver it (webhook, SMTP email, GitHub issue, ticket API), the widgets the
reader sees, the record of each hand-off, and follow-up suggestions."""
