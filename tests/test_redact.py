"""The key out of everything the report writes: the scrubber, the transcript, the writer."""

from __future__ import annotations

import json

import pytest

from harness.redact import FRAGMENT, REDACTED, Redactor
from harness.targets.base import new_api_key

KEY = "Key-" + new_api_key()


def fragments(secret: str) -> list[str]:
    """Every run of FRAGMENT characters of ``secret``: none may be readable anywhere."""
    return [secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)]


def assert_no_key(text: str) -> None:
    lowered = text.lower()
    leaked = [f for f in fragments(KEY) if f.lower() in lowered]
    assert not leaked, f"{len(leaked)} pieces of the key are readable in: {text[:300]}"


@pytest.mark.parametrize(
    "sent",
    [
        KEY,
        KEY.swapcase(),
        KEY[:-1],
        KEY + "x",
        "not-" + KEY,
        f"https://host/update?api_key={KEY}&x=1",
        json.dumps({"counter": 4, "X-API-KEY": KEY}),
        f"Bearer {KEY}",
        f"{KEY}{KEY.upper()}",
    ],
    ids=[
        "as is",
        "other case",
        "less one character",
        "one more character",
        "after a prefix",
        "in a query string",
        "in a JSON body",
        "as a bearer token",
        "twice in a row",
    ],
)
def test_the_key_in_any_form_is_redacted(sent: str) -> None:
    scrubbed = Redactor([KEY]).text(f"before {sent} after")
    assert_no_key(scrubbed)
    assert REDACTED in scrubbed
    assert scrubbed.startswith("before ")
    assert scrubbed.endswith(" after")


def test_text_without_the_key_is_left_as_it_is() -> None:
    text = 'POST /update {"counter": 5, "message": "hello"} → 200'
    assert Redactor([KEY]).text(text) == text


def test_a_short_secret_is_redacted_whole_and_only_whole() -> None:
    redactor = Redactor(["s3cret"])
    assert redactor.text("key=S3CRET; s3cre") == f"key={REDACTED}; s3cre"


def test_bytes_are_scrubbed_byte_for_byte() -> None:
    redactor = Redactor([KEY, "pässwort-lang"])
    data = b"\x89PNG\x00" + KEY.encode() + b"\xff" + "pässwort-lang".encode()
    assert redactor.bytes(data) == b"\x89PNG\x00" + REDACTED.encode() + b"\xff" + REDACTED.encode()


def test_credential_headers_are_redacted_whatever_they_hold() -> None:
    headers = Redactor([KEY]).headers(
        {"X-API-KEY": "not-the-key", "Authorization": "Basic abc", "Accept": "*/*"}
    )
    assert headers == {"X-API-KEY": REDACTED, "Authorization": REDACTED, "Accept": "*/*"}


def test_no_secret_redacts_nothing() -> None:
    redactor = Redactor()
    redactor.add(None)
    redactor.add("")
    assert redactor.text("anything at all") == "anything at all"
