"""The channels one by one against real local servers: STARTTLS to an aiosmtpd server, the
webhook's signature, which failures are retried, and the configuration from the environment."""

from __future__ import annotations

import datetime
import ipaddress
import ssl

import pytest

from docsdesk.core.context import DEFAULT_ASSISTANT
from docsdesk.handoff.channels import DeliveryError, WebhookChannel, channels_for, sign
from docsdesk.handoff.config import HandoffConfig, HandoffConfigs, config_from_environment
from docsdesk.handoff.smtp import EmailChannel
from docsdesk.handoff.ticket import Ticket, TranscriptTurn
from tests.support import free_port
from tests.support.handoff_servers import WEBHOOK_SECRET, Mailbox, receiver

TICKET = Ticket(
    handoff_id=7,
    thread_id="thr_1",
    assistant="default",
    email="reader@example.org",
    note="please help",
    page_url="https://docs.example/queues/",
    transcript=[
        TranscriptTurn("How do I retry?", "Jobs are retried three times [1].", ["https://docs.example/q#r"])
    ],
)


def self_signed(tmp_path) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_file), str(key_file)


async def test_email_uses_starttls_when_offered_and_logs_in(tmp_path, monkeypatch):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    cert, key = self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", cert)  # the client trusts this test's certificate
    logins: list[tuple[bytes, bytes]] = []

    def authenticate(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    mailbox, port = Mailbox(), free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        config = HandoffConfig(
            smtp_url=f"smtp://help%40docs:s3cret@127.0.0.1:{port}",
            email_from="docsdesk@docs.example",
            email_to="support@docs.example",
        )
        [channel] = channels_for(config)
        assert isinstance(channel, EmailChannel)
        await channel.deliver(TICKET)
    finally:
        controller.stop()
    assert logins == [(b"help@docs", b"s3cret")]
    [message] = mailbox.messages
    body = message.get_payload(decode=True).decode()
    assert message["Subject"].startswith("Docs question: How do I retry?")
    assert "Q1: How do I retry?" in body and "source: https://docs.example/q#r" in body


async def test_webhook_is_signed_and_client_errors_are_not_retried():
    async with receiver() as (url, received):
        channel = WebhookChannel(HandoffConfig(webhook_url=f"{url}/hook", webhook_secret=WEBHOOK_SECRET))
        assert await channel.deliver(TICKET) == f"{url}/hook"
        assert received.hooks[0]["transcript"][0]["cited_urls"] == ["https://docs.example/q#r"]

        wrong = WebhookChannel(
            HandoffConfig(webhook_url=f"{url}/hook", webhook_secret="not-the-secret", backoff_seconds=0)
        )
        with pytest.raises(DeliveryError) as failed:
            await wrong.deliver(TICKET)
        assert "HTTP 401" in failed.value.reason
        assert received.bad_signatures == 1  # a 4xx is final: one attempt


async def test_an_unreachable_server_is_retried_with_backoff():
    port = free_port()  # nothing listens here
    channel = WebhookChannel(
        HandoffConfig(webhook_url=f"http://127.0.0.1:{port}/", attempts=3, backoff_seconds=0.05)
    )
    import time

    started = time.monotonic()
    with pytest.raises(DeliveryError) as failed:
        await channel.deliver(TICKET)
    assert failed.value.channel == "webhook" and "ConnectError" in failed.value.reason
    assert time.monotonic() - started >= 0.05 + 0.1  # waited 0.05 s, then 0.1 s


def test_ticket_api_tokens_go_as_basic_auth_with_a_user():
    import base64

    from docsdesk.handoff.channels import ticket_authorization

    assert ticket_authorization(None, "t0k") == "Bearer t0k"
    zendesk = ticket_authorization("agent@acme.test/token", "t0k")
    assert base64.b64decode(zendesk.removeprefix("Basic ")) == b"agent@acme.test/token:t0k"


async def test_the_ticket_api_is_reached_with_basic_auth():
    from docsdesk.handoff.channels import TicketApiChannel
    from tests.support.handoff_servers import TICKET_TOKEN, TICKET_USER

    async with receiver() as (url, received):
        config = HandoffConfig(
            ticket_api_url=f"{url}/api/v2/tickets.json",
            ticket_api_user=TICKET_USER,
            ticket_api_token=TICKET_TOKEN,
        )
        reference = await TicketApiChannel(config).deliver(TICKET)
    assert reference == "1001" and received.tickets[0]["ticket"]["subject"]


def test_signature_is_the_hex_hmac_of_the_body():
    import hashlib
    import hmac

    assert sign("k", b"{}") == "sha256=" + hmac.new(b"k", b"{}", hashlib.sha256).hexdigest()


def test_configuration_from_the_environment(monkeypatch):
    monkeypatch.setenv("DOCSDESK_HANDOFF_WEBHOOK_URL", "https://hooks.example/docsdesk")
    monkeypatch.setenv("DOCSDESK_HANDOFF_WEBHOOK_SECRET", "s")
    configs = HandoffConfigs()
    default = configs.handoff_config_for(DEFAULT_ASSISTANT)
    assert default.enabled and [c.name for c in channels_for(default)] == ["webhook"]
    assert not configs.handoff_config_for("other").enabled  # other assistants: their own table
    configs.configure("other", HandoffConfig(github_repo="acme/docs"))
    assert [c.name for c in channels_for(configs.handoff_config_for("other"))] == ["github"]
    assert "'s'" not in repr(default)  # secrets are not printed

    monkeypatch.setenv("DOCSDESK_HANDOFF_WEBHOOK_URL", "ftp://nope")
    with pytest.raises(ValueError) as bad:
        config_from_environment()
    assert str(bad.value).startswith("DOCSDESK_HANDOFF_WEBHOOK_URL:") and "\n" not in str(bad.value)
