"""A test double: an HTTP proxy in front of a real service that breaks one promise of the
README at a time (a planted fault), so that a test can prove the spec (features/) notices.

It never ships and never stands in for the service: everything it forwards is answered by the
real service behind it, and a fault changes one thing on the way in or out.
"""

from __future__ import annotations

import html
import http.client
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from harness.client import API_KEY_HEADER
from tests.live import serving

#: Headers that belong to one connection, not to the exchange: never forwarded as they are.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host"})
#: A timestamp as the service writes it, to the microsecond.
MICROSECONDS = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.\d{6}Z")


@dataclass(frozen=True)
class Exchange:
    """A request as the client sent it."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    #: Sends a request to the service behind the proxy (for a fault that repeats one).
    send: Callable[[Exchange], Answer] | None = field(compare=False, repr=False, default=None)

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query))

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def with_header(self, name: str, value: str) -> Exchange:
        kept = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        return replace(self, headers=[*kept, (name, value)])

    def is_update(self) -> bool:
        return self.method == "POST" and self.path == "/update"


@dataclass(frozen=True)
class Answer:
    """An answer as the service gave it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def with_json(self, value: Any) -> Answer:
        return replace(self, body=json.dumps(value).encode())

    def with_header(self, name: str, value: str) -> Answer:
        kept = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        return replace(self, headers=[*kept, (name, value)])


def unchanged_request(exchange: Exchange) -> Exchange:
    return exchange


def unchanged_answer(exchange: Exchange, answer: Answer) -> Answer:
    return answer


@dataclass(frozen=True)
class Fault:
    """One broken promise: what the README says, and how the proxy breaks it."""

    name: str
    #: The promise, in the README's words.
    breaks: str
    on_request: Callable[[Exchange], Exchange] = unchanged_request
    on_answer: Callable[[Exchange, Answer], Answer] = unchanged_answer
    #: Whether only a deployment with an API key can show the fault.
    needs_key: bool = False
    #: The feature modules that state the promise, run first (the others follow).
    features: tuple[str, ...] = field(default=())


class FaultProxy:
    """Forwards every request to ``upstream``, with the current ``fault`` (none at first)
    planted, while :meth:`serving` on a free loopback port (``base_url``)."""

    def __init__(self, upstream: str) -> None:
        split = urlsplit(upstream)
        self.upstream_host = split.hostname or "127.0.0.1"
        self.upstream_port = split.port or 80
        self.fault: Fault | None = None
        self.base_url = ""
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                del format, args  # the service logs its own requests

            def handle_one(self) -> None:
                proxy.relay(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = handle_one

        self._handler = Handler

    def serving(self) -> Iterator[FaultProxy]:
        """Serves in a thread of its own until the generator is closed."""
        with serving(self._handler) as url:
            self.base_url = url
            yield self

    def relay(self, handler: BaseHTTPRequestHandler) -> None:
        fault = self.fault
        exchange = Exchange(
            handler.command,
            handler.path,
            list(handler.headers.items()),
            read_body(handler),
            send=self.forward,
        )
        if fault is not None:
            exchange = fault.on_request(exchange)
        answer = self.forward(exchange)
        if fault is not None:
            answer = fault.on_answer(exchange, answer)
        handler.send_response(answer.status)
        for name, value in answer.headers:
            if name.lower() not in HOP_BY_HOP:
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(answer.body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(answer.body)

    def forward(self, exchange: Exchange) -> Answer:
        connection = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=30)
        try:
            headers = {k: v for k, v in exchange.headers if k.lower() not in HOP_BY_HOP}
            connection.request(exchange.method, exchange.target, exchange.body or None, headers)
            response = connection.getresponse()
            return Answer(response.status, response.getheaders(), response.read())
        finally:
            connection.close()


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request's body, whether it came with a length or in chunks."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        body = b""
        while size := int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16):
            body += handler.rfile.read(size)
            handler.rfile.readline()
        while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return body
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


# -- building blocks of faults


def update_body(
    change: Callable[[dict[str, Any]], dict[str, Any]],
) -> Callable[[Exchange], Exchange]:
    """A request fault that changes the JSON object of an update, when it is one."""

    def on_request(exchange: Exchange) -> Exchange:
        if not exchange.is_update():
            return exchange
        try:
            body = json.loads(exchange.body)
        except ValueError:
            return exchange
        if not isinstance(body, dict):
            return exchange
        return replace(exchange, body=json.dumps(change(body)).encode())

    return on_request


def message(change: Callable[[str], str]) -> Callable[[Exchange], Exchange]:
    def on_body(body: dict[str, Any]) -> dict[str, Any]:
        if isinstance(body.get("message"), str):
            body["message"] = change(body["message"])
        return body

    return update_body(on_body)


def json_answer(
    applies: Callable[[Exchange, Answer], bool], change: Callable[[Any], Any]
) -> Callable[[Exchange, Answer], Answer]:
    """An answer fault that changes a JSON answer wherever ``applies`` says."""

    def on_answer(exchange: Exchange, answer: Answer) -> Answer:
        if not applies(exchange, answer):
            return answer
        try:
            value = answer.json()
        except ValueError:
            return answer
        return answer.with_json(change(value))

    return on_answer


def to(method: str, path: str, status: int = 200) -> Callable[[Exchange, Answer], bool]:
    return lambda e, a: e.method == method and e.path == path and a.status == status


def each_item(change: Callable[[dict[str, Any]], None]) -> Callable[[Any], Any]:
    def on_page(page: Any) -> Any:
        for item in page["items"]:
            change(item)
        return page

    return on_page


def with_(key: str, value: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def change(body: Any) -> Any:
        body[key] = value(body)
        return body

    return change


def echo_body(exchange: Exchange, answer: Answer) -> Answer:
    if not (exchange.is_update() and answer.status >= 400):
        return answer
    body = answer.json()
    body["detail"] = f"{body['detail']}: {exchange.body.decode('utf-8', 'replace')}"
    return answer.with_json(body)


def label_text_plain(exchange: Exchange, answer: Answer) -> Answer:
    return answer.with_header("Content-Type", "text/plain; charset=utf-8")


def to_the_second(exchange: Exchange, answer: Answer) -> Answer:
    return replace(answer, body=MICROSECONDS.sub(r"\1Z", answer.body.decode()).encode())


def stale_status() -> Callable[[Exchange, Answer], Answer]:
    first: list[Any] = []

    def on_answer(exchange: Exchange, answer: Answer) -> Answer:
        if not to("GET", "/status")(exchange, answer):
            return answer
        body = answer.json()
        if not first:
            first.append(body["state"])
        body["state"] = first[0]
        return answer.with_json(body)

    return on_answer


def starlette_not_found(exchange: Exchange, answer: Answer) -> Answer:
    if answer.status not in (404, 405):
        return answer
    return answer.with_json({"detail": "Not Found" if answer.status == 404 else "Not Allowed"})


def with_input(exchange: Exchange, answer: Answer) -> Answer:
    """FastAPI's own validation errors carry the value refused: the README promises not."""
    if not (exchange.is_update() and answer.status == 400):
        return answer
    try:
        sent = json.loads(exchange.body)
    except ValueError:
        sent = exchange.body.decode("utf-8", "replace")
    body = answer.json()
    for error in body["errors"]:
        error["input"] = sent.get(error["field"], sent) if isinstance(sent, dict) else sent
    return answer.with_json(body)


def limit_over_50_refused(exchange: Exchange) -> Exchange:
    if exchange.path == "/logs" and int(exchange.query.get("limit", "10") or 0) > 50:
        return replace(exchange, target="/logs?limit=0")  # refused as a bad limit
    return exchange


def default_limit_20(exchange: Exchange) -> Exchange:
    if exchange.method == "GET" and exchange.path == "/logs" and "limit" not in exchange.query:
        return replace(exchange, target="/logs?" + urlencode({**exchange.query, "limit": 20}))
    return exchange


def page_past_end_404(exchange: Exchange, answer: Answer) -> Answer:
    if to("GET", "/logs")(exchange, answer) and not answer.json()["items"]:
        return replace(answer, status=404).with_json({"detail": "no such page", "errors": []})
    return answer


def json_for_text(exchange: Exchange) -> Exchange:
    if exchange.is_update() and "json" not in (exchange.header("Content-Type") or ""):
        return exchange.with_header("Content-Type", "application/json")
    return exchange


def logged_twice(exchange: Exchange, answer: Answer) -> Answer:
    if to("POST", "/update")(exchange, answer) and exchange.send is not None:
        exchange.send(exchange)
    return answer


def faults(api_key: str) -> list[Fault]:
    """Every fault the spec must catch, each breaking one promise of the README."""
    update, logs, status = "test_update.py", "test_logs.py", "test_status.py"
    auth, errors = "test_auth.py", "test_errors.py"

    def key_in_header(exchange: Exchange) -> Exchange:
        return exchange.with_header(API_KEY_HEADER, api_key) if exchange.is_update() else exchange

    def cookie_counts(exchange: Exchange) -> Exchange:
        cookie = exchange.header("Cookie") or ""
        if exchange.is_update() and f"{API_KEY_HEADER}={api_key}" in cookie:
            return exchange.with_header(API_KEY_HEADER, api_key)
        return exchange

    def key_echoed(exchange: Exchange, answer: Answer) -> Answer:
        if answer.status != 401:
            return answer
        body = answer.json()
        body["detail"] += f" (expected {api_key})"
        return answer.with_json(body)

    return [
        # The four the issue lists.
        Fault(
            "message-whitespace-stripped",
            "what POST /update accepts is read back exactly",
            on_request=message(str.strip),
            features=(update,),
        ),
        Fault(
            "message-html-escaped",
            "what POST /update accepts is read back exactly",
            on_request=message(html.escape),
            features=(update,),
        ),
        Fault(
            "error-echoes-the-body",
            "a refusal ... never echoes the input",
            on_answer=echo_body,
            features=(update,),
        ),
        Fault(
            "answers-labelled-text-plain",
            "every answer is JSON (Content-Type: application/json)",
            on_answer=label_text_plain,
            features=(status, update),
        ),
        # Endpoints and what POST /update accepts.
        Fault(
            "old-state-wrong",
            "POST /update answers the new and old state",
            on_answer=json_answer(to("POST", "/update"), with_("old_state", lambda b: b["state"])),
            features=(update,),
        ),
        Fault(
            "status-stale",
            "GET /status: the state",
            on_answer=stale_status(),
            features=(update, status),
        ),
        Fault(
            "counter-written-as-a-fraction",
            "counter: a whole number",
            on_answer=json_answer(
                to("GET", "/status"),
                with_("state", lambda b: {**b["state"], "counter": float(b["state"]["counter"])}),
            ),
            features=(status, update),
        ),
        Fault(
            "message-truncated-to-255",
            "message: a string of at most MAX_MESSAGE_LENGTH characters",
            on_request=message(lambda m: m[:255]),
            features=(update,),
        ),
        Fault(
            "unknown-fields-dropped",
            "no other field ... is answered 400",
            on_request=update_body(
                lambda b: {k: v for k, v in b.items() if k in ("counter", "message")}
            ),
            features=(update,),
        ),
        Fault(
            "not-json-accepted",
            "a JSON object (Content-Type: application/json)",
            on_request=json_for_text,
            features=(update,),
        ),
        Fault(
            "update-logged-twice",
            "sets counter and/or message; logs the change",
            on_answer=logged_twice,
            features=(update,),
        ),
        Fault(
            "openapi-document-missing",
            "GET /openapi.json: the OpenAPI document",
            on_answer=lambda e, a: replace(a, status=404) if e.path == "/openapi.json" else a,
            features=(status,),
        ),
        Fault(
            "docs-page-missing",
            "GET /docs: a page to try it",
            on_answer=lambda e, a: replace(a, status=404) if e.path == "/docs" else a,
            features=(status,),
        ),
        # The log, its pages and its cursor.
        Fault(
            "log-counter-off-by-one",
            "every change logged before/after",
            on_answer=json_answer(
                to("GET", "/logs"),
                each_item(lambda i: i["new_value"].update(counter=i["new_value"]["counter"] + 1)),
            ),
            features=(update, logs),
        ),
        Fault(
            "log-oldest-first",
            "GET /logs: the update log, newest first",
            on_answer=json_answer(to("GET", "/logs"), with_("items", lambda b: b["items"][::-1])),
            features=(logs,),
        ),
        Fault(
            "log-total-off-by-one",
            "total and pages are the whole log's",
            on_answer=json_answer(to("GET", "/logs"), with_("total", lambda b: b["total"] + 1)),
            features=(logs,),
        ),
        Fault(
            "no-next-cursor",
            "every page carries next_cursor (null on the last one)",
            on_answer=json_answer(to("GET", "/logs"), with_("next_cursor", lambda b: None)),
            features=(logs,),
        ),
        Fault(
            "default-limit-20",
            "GET /logs?page=1&limit=10 (the defaults)",
            on_request=default_limit_20,
            features=(logs,),
        ),
        Fault(
            "limit-100-refused",
            "1 <= limit <= 100",
            on_request=limit_over_50_refused,
            features=(logs,),
        ),
        Fault(
            "page-past-the-end-is-404",
            "a page past the end is an empty page, not an error",
            on_answer=page_past_end_404,
            features=(logs,),
        ),
        # Errors.
        Fault(
            "errors-carry-the-input",
            "errors are JSON of one shape (detail, errors) and never echo the input",
            on_answer=with_input,
            features=(update,),
        ),
        Fault(
            "not-found-in-another-shape",
            "every error, 404 and 405 included, is JSON of the same shape",
            on_answer=starlette_not_found,
            features=(errors,),
        ),
        # Time.
        Fault(
            "status-time-without-z",
            "timestamps are UTC, ISO 8601, with a Z",
            on_answer=json_answer(
                to("GET", "/status"), with_("timestamp", lambda b: b["timestamp"][:-1])
            ),
            features=(status,),
        ),
        Fault(
            "timestamps-to-the-second",
            "timestamps are UTC, ISO 8601, with microseconds and a Z",
            on_answer=to_the_second,
            features=(status, logs),
        ),
        Fault(
            "uptime-frozen",
            "GET /status: the uptime in seconds",
            on_answer=json_answer(to("GET", "/status"), with_("uptime_seconds", lambda b: 1.0)),
            features=(status,),
        ),
        # The API key.
        Fault(
            "key-ignored",
            "POST /update needs the key in X-API-KEY",
            on_request=key_in_header,
            needs_key=True,
            features=(auth,),
        ),
        Fault(
            "key-in-a-cookie-counts",
            "a key in a cookie does not count",
            on_request=cookie_counts,
            needs_key=True,
            features=(auth,),
        ),
        Fault(
            "unauthorized-as-forbidden",
            "POST /update answers 401 unless the request carries exactly that key",
            on_answer=lambda e, a: replace(a, status=403) if a.status == 401 else a,
            needs_key=True,
            features=(auth,),
        ),
        Fault(
            "key-echoed-in-a-refusal",
            "the key is never echoed",
            on_answer=key_echoed,
            needs_key=True,
            features=(auth,),
        ),
    ]
