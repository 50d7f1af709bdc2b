"""A corpus of malformed requests against a real server: each is refused with a 4xx and a JSON
error body, none is a 5xx, and the whole corpus changes neither the state nor the log.

Every case names the status it expects, so a refusal for the wrong reason (a 401 where the
body should have been judged, a 404 where the method is wrong) fails as well.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from app.cursor import MAX_CURSOR_LENGTH, CursorCodec
from harness.client import API_KEY_HEADER, ApiClient
from harness.targets.process import ServiceProcess
from tests.live import running_server

pytestmark = pytest.mark.slow  # a real server

JSON = "application/json"
MAX_MESSAGE = 1024  # MAX_MESSAGE_LENGTH's default; checked against the server's document below
MAX_BODY = 16 * 1024  # MAX_BODY_BYTES's default
BASELINE = {"counter": 7, "message": "steady"}


@dataclass(frozen=True)
class Bad:
    """One malformed request and the status it must get."""

    id: str
    expect: int
    method: str = "POST"
    path: str = "/update"
    body: bytes | None = None
    content_type: str | None = JSON
    with_key: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    #: Send the body in chunks, with no Content-Length.
    chunked: bool = False
    #: Put the key in the query string (where it must not count).
    key_in_query: bool = False
    #: The field the error must name, where the refusal is about one.
    names: str | None = None


def update(id: str, body: str | bytes, **kwargs: Any) -> Bad:
    raw = body.encode() if isinstance(body, str) else body
    return Bad(id, kwargs.pop("expect", 400), body=raw, **kwargs)


def logs(id: str, query: str, expect: int = 400, names: str | None = None) -> Bad:
    return Bad(id, expect, method="GET", path=f"/logs?{query}", content_type=None, names=names)


#: Signed with another key than the server's, and forged with no key at all.
OTHER_LOGS_CURSOR = CursorCodec(b"another log's key 0123456789abcd").encode(
    "2026-01-01T00:00:00.000000Z", 1
)
FORGED_CURSOR = (
    base64.urlsafe_b64encode(b"1:2026-01-01T00:00:00.000000Z" + bytes(16)).rstrip(b"=").decode()
)

CORPUS: list[Bad] = [
    # -- the counter is not a whole number in the int64 range
    update("counter-string", '{"counter": "5"}', names="counter"),
    update("counter-empty-string", '{"counter": ""}'),
    update("counter-hex-string", '{"counter": "0x10"}'),
    update("counter-fraction", '{"counter": 1.5}', names="counter"),
    update("counter-negative-fraction", '{"counter": -0.5}'),
    update("counter-true", '{"counter": true}', names="counter"),
    update("counter-false", '{"counter": false}'),
    update("counter-list", '{"counter": [1]}', names="counter"),
    update("counter-object", '{"counter": {"value": 1}}', names="counter"),
    update("counter-int64-max-plus-one", '{"counter": 9223372036854775808}', names="counter"),
    update("counter-int64-min-minus-one", '{"counter": -9223372036854775809}', names="counter"),
    update("counter-1e30", '{"counter": 1e30}', names="counter"),
    update("counter-1e400-infinite", '{"counter": 1e400}'),
    update("counter-NaN", '{"counter": NaN}'),
    update("counter-Infinity", '{"counter": Infinity}'),
    update("counter-minus-Infinity", '{"counter": -Infinity}'),
    update("counter-5000-digits", '{"counter": 1' + "0" * 5000 + "}"),
    update("counter-nested-5000-deep", '{"counter": ' + "[" * 5000 + "]" * 5000 + "}"),
    update("counter-leading-zero", '{"counter": 05}'),
    update("counter-plus-sign", '{"counter": +5}'),
    # -- the message is not text, or too long
    update("message-number", '{"message": 5}', names="message"),
    update("message-false", '{"message": false}', names="message"),
    update("message-list", '{"message": ["a"]}', names="message"),
    update("message-object", '{"message": {"text": "a"}}', names="message"),
    update(
        "message-one-too-long", json.dumps({"message": "x" * (MAX_MESSAGE + 1)}), names="message"
    ),
    update("message-one-too-long-in-emoji", json.dumps({"message": "🎉" * (MAX_MESSAGE + 1)})),
    update(
        "message-one-too-long-as-escapes",  # 12 bytes a character, still under the body limit
        json.dumps({"message": "🎉" * (MAX_MESSAGE + 1)}, ensure_ascii=True),
    ),
    # -- unicode that is not
    update("message-lone-high-surrogate", '{"message": "\\ud800"}'),
    update("message-lone-low-surrogate", '{"message": "\\udfff"}'),
    update("message-surrogate-pair-reversed", '{"message": "\\udc00\\ud800"}'),
    update("message-ends-in-half-a-pair", '{"message": "ok\\ud83d"}'),
    update("field-name-lone-surrogate", '{"\\ud800": 1}'),
    update("invalid-utf8", b'{"message": "\xff\xfe"}'),
    update("overlong-utf8-nul", b'{"message": "\xc0\x80"}'),
    update("utf8-encoded-surrogate", b'{"message": "\xed\xa0\x80"}'),
    update("raw-nul-in-string", b'{"message": "a\x00b"}'),
    update("raw-control-char-in-string", b'{"message": "a\x01b"}'),
    update("raw-newline-in-string", b'{"message": "a\nb"}'),
    update("nul-outside-string", b'{"counter": 1}\x00'),
    # -- nothing to set
    update("empty-object", "{}", names="body"),
    update("both-null", '{"counter": null, "message": null}', names="body"),
    update("counter-null", '{"counter": null}', names="body"),
    update("message-null", '{"message": null}'),
    # -- fields the service does not know
    update("extra-field", '{"counter": 1, "colour": "red"}', names="colour"),
    update("extra-null-field", '{"counter": 1, "extra": null}'),
    update("field-in-another-case", '{"Counter": 1}', names="Counter"),
    update("field-with-space", '{"counter ": 1}'),
    update("key-in-body-only-extra", '{"message": "m", "X-API-KEY": "x"}'),
    update("duplicate-key-last-wins-bad", '{"counter": 1, "counter": "x"}'),
    # -- not a JSON object
    update("json-array", "[1, 2]", names="body"),
    update("json-array-of-object", '[{"counter": 1}]'),
    update("json-string", '"counter"', names="body"),
    update("json-number", "5", names="body"),
    update("json-null", "null", names="body"),
    update("json-true", "true"),
    update("empty-body", ""),
    update("whitespace-body", "   \n"),
    # -- not JSON at all
    update("unclosed-object", '{"counter": 5', names="body"),
    update("form-encoded-text", "counter=5", names="body"),
    update("single-quotes", "{'counter': 5}"),
    update("trailing-comma", '{"counter": 5,}'),
    update("two-objects", '{"counter": 5}{"counter": 6}'),
    update("comment", '{"counter": 5 /* five */}'),
    update("unquoted-key", "{counter: 5}"),
    update("truncated-literal", "nul"),
    update("binary-garbage", bytes(range(256))),
    # -- not declared as JSON
    update(
        "content-type-text-plain", '{"counter": 8}', content_type="text/plain", names="content-type"
    ),
    update(
        "content-type-form",
        '{"counter": 8}',
        content_type="application/x-www-form-urlencoded",
        names="content-type",
    ),
    update("content-type-multipart", '{"counter": 8}', content_type="multipart/form-data"),
    update("content-type-almost-json", '{"counter": 8}', content_type="application/jsonx"),
    update("content-type-xml", "<counter>8</counter>", content_type="application/xml"),
    update("content-type-missing", '{"counter": 8}', content_type=None, names="content-type"),
    update("content-type-empty", '{"counter": 8}', content_type=""),
    # -- too large: refused before anything else, key or no key
    update("body-one-byte-over", json.dumps({"message": "x" * (MAX_BODY - 14)})),
    update("body-1-mib", json.dumps({"message": "x" * 2**20})),
    update("body-over-chunked", json.dumps({"message": "x" * MAX_BODY}), chunked=True),
    update("body-over-without-key", "x" * (MAX_BODY + 1), with_key=False),
    # -- without the key, the body is not even looked at
    update("no-key-valid-body", '{"counter": 8}', with_key=False, expect=401),
    update("no-key-invalid-body", '{"counter": "8"}', with_key=False, expect=401),
    update("no-key-not-json", "counter=8", with_key=False, content_type="text/plain", expect=401),
    update("no-key-not-json-declared-json", "not json at all", with_key=False, expect=401),
    update("no-key-unclosed-object", '{"counter": 5', with_key=False, expect=401),
    update("no-key-extra-field", '{"counter": 1, "extra": true}', with_key=False, expect=401),
    update("no-key-empty-object", "{}", with_key=False, expect=401),
    update("no-key-json-array", "[1, 2]", with_key=False, expect=401),
    update("key-in-query-only", '{"counter": 8}', with_key=False, key_in_query=True, expect=401),
    update(
        "key-as-bearer",
        '{"counter": 8}',
        with_key=False,
        headers={"Authorization": "Bearer key"},
        expect=401,
    ),
    update(
        "key-non-ascii",
        '{"counter": 8}',
        with_key=False,
        headers={API_KEY_HEADER: "clé-ß-\u00ff"},
        expect=401,
    ),
    # -- the log's page and limit
    logs("page-zero", "page=0", names="page"),
    logs("page-negative", "page=-1", names="page"),
    logs("page-minus-zero", "page=-0"),
    logs("page-hugely-negative", f"page=-{10**30}"),
    logs("page-word", "page=abc", names="page"),
    logs("page-fraction", "page=1.5", names="page"),
    logs("page-empty", "page="),
    logs("page-nul", "page=%00"),
    logs("page-fullwidth-digit", "page=%EF%BC%91"),
    logs("page-arabic-digit", "page=%D9%A1"),
    logs("page-exponent", "page=1e2", names="page"),
    logs("page-lone-surrogate-escaped", "page=%ED%A0%80"),
    logs("page-invalid-utf8", "page=%FF"),
    logs("limit-zero", "limit=0", names="limit"),
    logs("limit-one-over", "limit=101", names="limit"),
    logs("limit-huge", f"limit={10**30}"),
    logs("limit-negative", "limit=-5", names="limit"),
    logs("limit-word", "limit=ten", names="limit"),
    logs("limit-empty", "limit=", names="limit"),
    logs("limit-hex", "limit=0x10"),
    logs("limit-true", "limit=true"),
    logs("both-bad", "page=0&limit=0"),
    # -- cursors this log never issued: garbled, forged, signed by another log, too long
    logs("cursor-empty", "cursor="),
    logs("cursor-word", "cursor=abc"),
    logs("cursor-not-base64", "cursor=abc%24def"),
    logs("cursor-padded", "cursor=" + OTHER_LOGS_CURSOR + "%3D"),
    logs("cursor-of-another-log", "cursor=" + OTHER_LOGS_CURSOR),
    logs("cursor-forged", "cursor=" + FORGED_CURSOR),
    logs("cursor-truncated", "cursor=" + OTHER_LOGS_CURSOR[:-3]),
    logs("cursor-too-long", "cursor=" + "A" * (MAX_CURSOR_LENGTH + 1)),
    logs("cursor-non-ascii", "cursor=%C3%A9%C3%A9%C3%A9%C3%A9"),
    logs("cursor-nul", "cursor=%00"),
    logs("cursor-bad-and-limit-bad", "cursor=abc&limit=0"),
    # -- paths that do not exist
    Bad("unknown-path", 404, method="GET", path="/nope", content_type=None),
    Bad("trailing-slash-status", 404, method="GET", path="/status/", content_type=None),
    Bad("trailing-slash-update", 404, path="/update/", body=b'{"counter": 8}'),
    Bad("path-in-another-case", 404, method="GET", path="/Status", content_type=None),
    Bad("path-parameter", 404, method="GET", path="/status;key=1", content_type=None),
    Bad("log-by-id", 404, method="GET", path="/logs/1", content_type=None),
    Bad("encoded-nul-path", 404, method="GET", path="/%00", content_type=None),
    Bad("dot-dot-path", 404, method="GET", path="/%2e%2e/status", content_type=None),
    Bad("dotfile", 404, method="GET", path="/.env", content_type=None),
    Bad("admin", 404, method="GET", path="/admin", content_type=None),
    Bad("update-with-key-in-path", 404, path="/update/key", body=b'{"counter": 8}'),
    # -- methods the path does not take
    Bad("get-update", 405, method="GET", content_type=None),
    Bad("put-update", 405, method="PUT", body=b'{"counter": 8}'),
    Bad("patch-update", 405, method="PATCH", body=b'{"counter": 8}'),
    Bad("delete-update", 405, method="DELETE", content_type=None),
    Bad("options-update", 405, method="OPTIONS", content_type=None),
    Bad("propfind-update", 405, method="PROPFIND", content_type=None),
    Bad("post-status", 405, path="/status", body=b'{"counter": 8}'),
    Bad("post-logs", 405, path="/logs", body=b'{"counter": 8}'),
    Bad("delete-logs", 405, method="DELETE", path="/logs", content_type=None),
    Bad("put-health", 405, method="PUT", path="/health", body=b"{}"),
    Bad("trace-status", 405, method="TRACE", path="/status", content_type=None),
    Bad("post-openapi", 405, path="/openapi.json", body=b"{}"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    with running_server(tmp_path_factory.mktemp("bad-input")) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: ServiceProcess) -> ApiClient:
    return ApiClient(server.base_url, server.api_key)


@pytest.fixture(scope="module")
def before(client: ApiClient) -> tuple[dict[str, Any], int]:
    """The state and log total that the corpus must leave as they are."""
    assert client.max_message_length() == MAX_MESSAGE, "the corpus assumes the default limits"
    client.set_state(**BASELINE)
    return client.current_state(), client.log_total()


def send(client: ApiClient, case: Bad) -> requests.Response:
    headers = dict(case.headers)
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    if case.with_key:
        assert client.api_key is not None
        headers[API_KEY_HEADER] = client.api_key
    path = case.path
    if case.key_in_query:
        path += f"?api_key={client.api_key}&{API_KEY_HEADER}={client.api_key}"
    data: Any = case.body
    if case.chunked and case.body is not None:
        body = case.body
        data = (body[i : i + 4096] for i in range(0, len(body), 4096))
    return client.request(case.method, path, data=data, headers=headers, allow_redirects=False)


def test_the_corpus_is_large_and_its_names_unique() -> None:
    assert len(CORPUS) >= 60
    assert len({case.id for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_a_malformed_request_is_refused_with_a_json_error(
    client: ApiClient, before: tuple[dict[str, Any], int], case: Bad
) -> None:
    response = send(client, case)
    shown = f"{case.method} {case.path} {case.body[:200]!r}" if case.body else case.path
    assert response.status_code < 500, f"{shown}: {response.status_code} {response.text}"
    assert response.status_code == case.expect, f"{shown}: {response.text}"
    assert response.headers["content-type"] == JSON, response.headers
    body = response.json()
    assert isinstance(body, dict)
    assert isinstance(body.get("detail"), str)
    assert body["detail"]
    assert isinstance(body.get("errors"), list)
    if case.names is not None:
        named = [error.get("field") for error in body["errors"]]
        assert case.names in named, f"{shown}: {case.names!r} not among {named}"
    assert (client.current_state(), client.log_total()) == before


def test_after_the_whole_corpus_nothing_changed(
    client: ApiClient, before: tuple[dict[str, Any], int]
) -> None:
    for case in CORPUS:
        send(client, case)
    assert client.current_state() == before[0]
    assert client.log_total() == before[1]
    assert client.health().status_code == 200


#: Requests that the HTTP parser (uvicorn's httptools) refuses before the app sees them: the
#: answer is uvicorn's own plain-text 400, so it cannot be the service's JSON error.
UNPARSEABLE = [
    b"BREW /status HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /update HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
    b"POST /update HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    b"GET /status HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET /sta tus HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x00\x01\x02\r\n\r\n",
]


def raw_exchange(base_url: str, request: bytes) -> bytes:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("request_bytes", UNPARSEABLE, ids=lambda r: repr(r[:24]))
def test_unparseable_http_is_a_400_and_changes_nothing(
    client: ApiClient, before: tuple[dict[str, Any], int], request_bytes: bytes
) -> None:
    answer = raw_exchange(client.base_url, request_bytes)
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 400 "), answer[:300]
    assert (client.current_state(), client.log_total()) == before


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(
    client: ApiClient, before: tuple[dict[str, Any], int]
) -> None:
    assert client.api_key is not None
    head = (
        "POST /update HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"{API_KEY_HEADER}: {client.api_key}\r\nContent-Length: {10**12}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    answer = raw_exchange(client.base_url, head + b'{"counter": 8}')
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 400 "), answer[:300]
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["errors"][0]["field"] == "body"
    assert (client.current_state(), client.log_total()) == before


def test_a_nul_escaped_in_json_is_valid_text_and_round_trips(tmp_path: Path) -> None:
    """Not bad input, the line beside it: ``\\u0000`` is a valid JSON string character."""
    with running_server(tmp_path) as server:
        client = ApiClient(server.base_url, server.api_key)
        response = client.update(raw=b'{"message": "a\\u0000b\\u001f"}')
        assert response.status_code == 200, response.text
        assert client.current_state()["message"] == "a\x00b\x1f"
        newest = client.logs(limit=1).json()["items"][0]
        assert newest["new_value"]["message"] == "a\x00b\x1f"


def test_a_cursor_changed_anywhere_or_given_with_a_page_is_refused(client: ApiClient) -> None:
    for n in range(3):
        client.set_state(counter=n)
    issued = client.logs(limit=1).json()["next_cursor"]
    assert client.logs(cursor=issued, limit=1).status_code == 200
    before = (client.current_state(), client.log_total())
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i, char in enumerate(issued):
        changed = issued[:i] + alphabet[(alphabet.index(char) + 1) % 64] + issued[i + 1 :]
        answer = client.logs(cursor=changed, limit=1)
        # The last character carries only padding bits of base64 in some lengths: a change
        # there may decode to the same bytes, which is the same cursor.
        if answer.status_code == 200:
            assert i == len(issued) - 1, f"a cursor changed at {i} was accepted"
            continue
        assert answer.status_code == 400, answer.text
        body = answer.json()
        assert [error["field"] for error in body["errors"]] == ["cursor"]
        assert changed not in answer.text, "the refused cursor is echoed back"
    for query in ({"page": 1}, {"page": 2}):
        answer = client.logs(cursor=issued, limit=1, **query)
        assert answer.status_code == 400, answer.text
        assert [error["field"] for error in answer.json()["errors"]] == ["cursor"]
    assert (client.current_state(), client.log_total()) == before
