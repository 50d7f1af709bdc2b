"""The key out of everything the report writes: the scrubber, the transcript, the writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from allure_commons import model2

from harness.redact import FRAGMENT, REDACTED, Redactor
from harness.report.transcript import transcript
from harness.report.writer import RedactingFileLogger
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


def test_a_transcript_shows_the_exchange_without_the_key() -> None:
    request = requests.Request(
        "POST",
        "http://127.0.0.1:5000/update",
        params={"api_key": KEY},
        headers={"X-API-KEY": KEY, "Content-Type": "application/json"},
        json={"counter": 5, "X-API-KEY": KEY.swapcase()},
    ).prepare()
    response = requests.Response()
    response.request = request
    response.status_code = 401
    response.reason = "Unauthorized"
    response.headers["content-type"] = "application/json"
    response._content = b'{"detail": "a valid API key is needed"}'

    text = transcript(response, Redactor([KEY]))

    assert_no_key(text)
    assert text.startswith("POST http://127.0.0.1:5000/update?api_key=[redacted]\n")
    assert f"X-API-KEY: {REDACTED}" in text
    assert '"counter": 5' in text
    assert "HTTP 401 Unauthorized" in text
    assert '"detail": "a valid API key is needed"' in text


def test_the_writer_scrubs_results_and_attachments_before_they_reach_the_disk(
    tmp_path: Path,
) -> None:
    writer = RedactingFileLogger(tmp_path / "results", redactor=Redactor([KEY]))
    step = model2.TestStepResult(name=f"When the key {KEY} is sent", parameters=[])
    step.parameters.append(model2.Parameter(name="api_key", value=repr(KEY)))
    result = model2.TestResult(
        uuid="1", name="a scenario", fullName="features/x.feature:a scenario"
    )
    result.steps.append(step)
    result.statusDetails = model2.StatusDetails(
        message=f"assert {KEY!r} not in answer", trace=f"E   {KEY.swapcase()}"
    )
    source = tmp_path / "captured.txt"
    source.write_text(f"stdout: {KEY}\n")

    writer.report_result(result)  # type: ignore[no-untyped-call]
    writer.report_attached_data(body=f"body {KEY}", file_name="a-attachment.txt")
    writer.report_attached_data(body=f"bytes {KEY}".encode(), file_name="b-attachment.txt")
    writer.report_attached_file(source=source, file_name="c-attachment.txt")

    written = sorted((tmp_path / "results").iterdir())
    assert len(written) == 4, written
    for path in written:
        text = path.read_text()
        assert_no_key(text)
        assert REDACTED in text, f"{path.name} was written without the redacted key"
    result_file = next(p for p in written if p.name.endswith("-result.json"))
    saved = json.loads(result_file.read_text())
    assert saved["steps"][0]["parameters"][0] == {"name": "api_key", "value": f"'{REDACTED}'"}
