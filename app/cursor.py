"""Opaque, signed cursors for keyset paging of the log.

A cursor names the last row a page showed, by the log's order (timestamp, id), and carries an
HMAC of it under a key kept in the database: a cursor this service did not issue, or one
changed on the way, is refused instead of being read as a position.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

#: Bytes of the HMAC-SHA256 kept in a cursor: forging one is a 2**-128 guess.
MAC_BYTES = 16
#: Longest cursor accepted, in characters (one issued is 60 to 84).
MAX_CURSOR_LENGTH = 200
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


class InvalidCursor(ValueError):
    """The cursor was not issued by this service's log, or was changed since."""


class CursorCodec:
    """Encodes a position (timestamp, id) into a cursor, and back."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def encode(self, timestamp: str, row_id: int) -> str:
        payload = f"{row_id}:{timestamp}".encode()
        token = base64.urlsafe_b64encode(payload + self._mac(payload))
        return token.rstrip(b"=").decode("ascii")

    def decode(self, cursor: str) -> tuple[str, int]:
        """The position a cursor names; InvalidCursor when it is not one of ours."""
        if len(cursor) > MAX_CURSOR_LENGTH or not _TOKEN.fullmatch(cursor):
            raise InvalidCursor("not a cursor this log issued")
        try:
            raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise InvalidCursor("not a cursor this log issued") from None
        payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
        if len(raw) <= MAC_BYTES or not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidCursor("not a cursor this log issued")
        # Signed by us, so well formed; parsed defensively all the same.
        row_id, _, timestamp = payload.decode("utf-8", "replace").partition(":")
        if not row_id.isdigit() or not timestamp:
            raise InvalidCursor("not a cursor this log issued")
        return timestamp, int(row_id)

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:MAC_BYTES]
