"""Cursors: what this log issued reads back; anything else is refused, never guessed at."""

from __future__ import annotations

import base64

import pytest

from app.cursor import MAX_CURSOR_LENGTH, CursorCodec, InvalidCursor

CODEC = CursorCodec(b"k" * 32)
ISSUED = CODEC.encode("2026-01-01T00:00:00.000000Z", 12345)


def _forged(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload + b"\0" * 16).rstrip(b"=").decode()


def test_an_issued_cursor_reads_back() -> None:
    assert CODEC.decode(ISSUED) == ("2026-01-01T00:00:00.000000Z", 12345)
    assert len(ISSUED) < MAX_CURSOR_LENGTH


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "abc",
        "!!!!",
        ISSUED + "A",
        ISSUED[:-1],
        ISSUED[:-2] + ("A" if ISSUED[-2] != "A" else "B") + ISSUED[-1],
        ISSUED.swapcase(),
        ISSUED + "=",
        "A" * (MAX_CURSOR_LENGTH + 1),
        _forged(b"1:2026-01-01T00:00:00.000000Z"),
        base64.urlsafe_b64encode(b"1:2026").decode().rstrip("="),
        CursorCodec(b"x" * 32).encode("2026-01-01T00:00:00.000000Z", 12345),
        "é" * 8,
    ],
)
def test_anything_not_issued_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        CODEC.decode(cursor)


def test_a_signed_but_malformed_position_is_refused() -> None:
    signed = CursorCodec(b"k" * 32)
    payload = b"not-a-number:2026"
    token = base64.urlsafe_b64encode(payload + signed._mac(payload)).rstrip(b"=").decode()
    with pytest.raises(InvalidCursor):
        signed.decode(token)
