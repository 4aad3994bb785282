"""The email channel: the plain-text transcript over SMTP (stdlib smtplib in a worker thread),
STARTTLS whenever the server offers it, login when the URL carries credentials.

`smtp_url`: smtp://[user:password@]host[:port] (STARTTLS when offered, port 25 by default)
or smtps://... (TLS from the start, port 465)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

from docsdesk.handoff.channels import HandoffChannel, Retryable, register_channel
from docsdesk.handoff.config import HandoffConfig
from docsdesk.handoff.ticket import Ticket


def message_for(ticket: Ticket, sender: str, recipient: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = ticket.subject
    message["From"] = sender
    message["To"] = recipient
    message["Reply-To"] = ticket.email
    message["Message-ID"] = make_msgid(domain="docsdesk")
    message.set_content(ticket.as_text())
    return message


class EmailChannel(HandoffChannel):
    name = "email"

    async def send(self, ticket: Ticket) -> str:
        assert self.config.smtp_url is not None and self.config.email_to is not None
        sender = self.config.email_from or "docsdesk@localhost"
        message = message_for(ticket, sender, self.config.email_to)
        await asyncio.to_thread(self._send, message)
        return str(message["Message-ID"])

    def _send(self, message: EmailMessage) -> None:
        assert self.config.smtp_url is not None
        url = urlsplit(self.config.smtp_url.get_secret_value())
        timeout, host = self.config.timeout_seconds, url.hostname or "localhost"
        context = ssl.create_default_context()
        try:
            smtp: smtplib.SMTP
            if url.scheme == "smtps":
                smtp = smtplib.SMTP_SSL(host, url.port or 465, timeout=timeout, context=context)
            else:
                smtp = smtplib.SMTP(host, url.port or 25, timeout=timeout)
            with smtp:
                smtp.ehlo()
                if url.scheme != "smtps" and smtp.has_extn("starttls"):
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if url.username:
                    smtp.login(unquote(url.username), unquote(url.password or ""))
                smtp.send_message(message)
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as exc:
            raise Retryable(f"{type(exc).__name__}: {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:  # transient
                raise Retryable(f"SMTP {exc.smtp_code}") from exc
            raise


def _email(config: HandoffConfig) -> EmailChannel | None:
    return EmailChannel(config) if config.smtp_url and config.email_to else None


register_channel("email", _email)
