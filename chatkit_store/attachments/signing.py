"""Signed, expiring URLs for attachment uploads and previews.

A URL carries `expires` (Unix seconds) and `signature`: HMAC-SHA256, keyed with a key
derived from the server secret, over the purpose, the attachment id, its owner (tenant and
user) and the expiry. The owner is not in the URL: the server looks it up by id, so a URL
signed for one user's attachment cannot be replayed for anyone else's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import urlencode

Purpose = str  # "upload" | "preview"


class SignatureError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class UrlSigner:
    def __init__(self, server_secret: bytes) -> None:
        self._key = hmac.new(server_secret, b"docsdesk attachment urls v1", hashlib.sha256).digest()

    def signature(
        self, purpose: Purpose, attachment_id: str, tenant_id: str, user_id: str, expires: int
    ) -> str:
        message = "\n".join((purpose, attachment_id, tenant_id, user_id, str(expires))).encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def url(
        self, base_url: str, purpose: Purpose, attachment_id: str, tenant_id: str, user_id: str, ttl: int
    ) -> str:
        expires = int(time.time()) + ttl
        query = urlencode(
            {
                "expires": expires,
                "signature": self.signature(purpose, attachment_id, tenant_id, user_id, expires),
            }
        )
        return f"{base_url.rstrip('/')}/attachments/{attachment_id}/{purpose}?{query}"

    def verify(
        self,
        purpose: Purpose,
        attachment_id: str,
        tenant_id: str,
        user_id: str,
        expires: str | None,
        signature: str | None,
    ) -> None:
        """Raise SignatureError unless the signature is ours and has not expired."""
        if not expires or not signature or not expires.isdigit() or len(expires) > 12:
            raise SignatureError(
                "invalid_signature", "the URL is not signed (expires and signature are required)"
            )
        expected = self.signature(purpose, attachment_id, tenant_id, user_id, int(expires))
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise SignatureError("invalid_signature", "the URL's signature is not valid")
        if int(expires) < time.time():
            raise SignatureError("url_expired", "the signed URL has expired; ask for a new one")
