"""One request and its answer as text a reader can follow, with every secret redacted."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from urllib.parse import urlsplit

import requests

from harness.redact import Redactor

#: The most of a body the report shows; the rest is counted, not written.
BODY_LIMIT = 4096


def title(response: requests.Response) -> str:
    """A short name for the exchange: ``POST /update → 401``."""
    request = response.request
    path = urlsplit(request.url or "").path or "/"
    return f"{request.method} {path} → {response.status_code}"


def transcript(response: requests.Response, redactor: Redactor) -> str:
    """The request (method, URL, headers, body) and the answer (status, headers, body, time)."""
    request = response.request
    elapsed_ms = response.elapsed.total_seconds() * 1000
    lines = [
        f"{request.method} {request.url}",
        *_headers(request.headers, redactor),
        "",
        _body(request.body, request.headers),
        "",
        f"HTTP {response.status_code} {response.reason} ({elapsed_ms:.0f} ms)",
        *_headers(response.headers, redactor),
        "",
        _body(response.content, response.headers),
    ]
    return redactor.text("\n".join(lines).rstrip() + "\n")


def _headers(headers: Mapping[str, str], redactor: Redactor) -> list[str]:
    return [f"{name}: {value}" for name, value in redactor.headers(headers).items()]


def _body(body: bytes | str | None, headers: Mapping[str, str]) -> str:
    if not body:
        return "(no body)"
    raw = body.encode() if isinstance(body, str) else body
    shown, rest = raw[:BODY_LIMIT], len(raw) - BODY_LIMIT
    try:
        text = shown.decode()
    except UnicodeDecodeError:
        return f"({len(raw)} bytes, not UTF-8 text)"
    if rest <= 0 and "json" in headers.get("content-type", ""):
        # Broken JSON (a scenario may send it on purpose) is shown as it was sent.
        with contextlib.suppress(ValueError):
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    if rest > 0:
        text += f"\n… ({rest} more bytes)"
    return text
