"""Secrets out of everything the harness writes down: one registry, one way to scrub.

A key must not be readable from a report in any form a scenario sends it: as it is, in
another case, less its last character, with one more, inside a query string or a JSON body.
So a secret is redacted wherever a run of at least ``FRAGMENT`` of its characters (all of it,
if it is shorter) appears, in any case; a random 32-character key cannot match by chance.
Header values that carry credentials are redacted whatever they hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

#: What stands where a secret was (ASCII, so bytes and text are scrubbed alike).
REDACTED = "[redacted]"

#: The shortest run of a secret's characters that is redacted.
FRAGMENT = 8

#: Headers whose values are credentials, whatever they hold (lower case).
CREDENTIAL_HEADERS = frozenset(
    {"x-api-key", "authorization", "proxy-authorization", "cookie", "set-cookie"}
)


class Redactor:
    """Remembers secrets and removes them (and runs of their characters) from text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._text: re.Pattern[str] | None = None
        self._latin1: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Redact ``secret`` from now on (None or "" is no secret)."""
        if secret and secret not in self._secrets:
            self._secrets.add(secret)
            self._text = _pattern(self._secrets)
            # Bytes are scrubbed as latin-1 text, where each byte is one character; a
            # secret's UTF-8 bytes read the same way match wherever they occur.
            self._latin1 = _pattern(s.encode().decode("latin-1") for s in self._secrets)

    def text(self, value: str) -> str:
        return _scrub(self._text, value)

    def bytes(self, value: bytes) -> bytes:
        return _scrub(self._latin1, value.decode("latin-1")).encode("latin-1")

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The headers with credential values replaced, and secrets scrubbed from the rest."""
        return {
            name: REDACTED if name.lower() in CREDENTIAL_HEADERS else self.text(value)
            for name, value in headers.items()
        }

    def data(self, value: object) -> object:
        """``value`` with every string in it scrubbed (dicts, lists and tuples walked)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes):
            return self.bytes(value)
        if isinstance(value, dict):
            return {self.data(key): self.data(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.data(item) for item in value)
        return value


def _pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern whose lookahead finds, at every position, a run of any secret's characters."""
    fragments: set[str] = set()
    for secret in secrets:
        size = min(len(secret), FRAGMENT)
        fragments.update(secret[i : i + size] for i in range(len(secret) - size + 1))
    if not fragments:
        return None
    alternatives = "|".join(re.escape(f) for f in sorted(fragments, key=len, reverse=True))
    return re.compile(f"(?=({alternatives}))", re.IGNORECASE)


def _scrub(pattern: re.Pattern[str] | None, value: str) -> str:
    if pattern is None:
        return value
    spans: list[tuple[int, int]] = []
    for match in pattern.finditer(value):
        start, end = match.start(1), match.end(1)
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    if not spans:
        return value
    parts: list[str] = []
    done = 0
    for start, end in spans:
        parts += [value[done:start], REDACTED]
        done = end
    parts.append(value[done:])
    return "".join(parts)


#: A URL in a message: absolute (``http://user:pw@host/path?q``), or a path with its query as
#: urllib3 writes one into requests' errors (``Max retries exceeded with url: /path?q``).
_URL = re.compile(r"""[A-Za-z][A-Za-z0-9+.-]*://[^\s'"<>]+|(?<=url: )/[^\s'"<>]*""")


def safe_url(url: str) -> str:
    """``url`` without what may carry a credential: no user or password, no query, no fragment
    (a key given as ``?api_key=...`` or ``https://user:key@host`` stays out of messages)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # an unreadable port or host: keep nothing that could be a secret
        return url.split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
    if ":" in host:  # an IPv6 address goes back in its brackets
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def without_url_secrets(text: str) -> str:
    """``text`` (an error message) with every URL in it cut down by :func:`safe_url`.

    requests and urllib3 put the whole URL of a failed request, query string included, into
    their exceptions' messages; every message the harness shows that may hold a URL passes
    through here."""
    return _URL.sub(lambda found: safe_url(found.group(0)), text)


#: The secrets of this process: every key a client of the service was given.
SECRETS = Redactor()
