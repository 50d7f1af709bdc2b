"""A small HTTP client for the service, over requests: what the steps talk through."""

from __future__ import annotations

from typing import Any

import requests

from harness import exchanges
from harness.redact import without_url_secrets

API_KEY_HEADER = "X-API-KEY"

#: Sentinel: send the client's own key.
OWN_KEY = object()


class ApiClient:
    """Talks to one deployment. Every call returns the raw response: steps assert on it."""

    def __init__(self, base_url: str, api_key: str | None, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.session = requests.Session()
        # The report writes down each request and answer under its step, the key redacted.
        exchanges.watch(self.session, secret=api_key)

    def __repr__(self) -> str:
        # Shown wherever a step's arguments are (pytest's output, the report): never the key.
        return f"ApiClient({self.base_url})"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        try:
            return self.session.request(method, self.url(path), **kwargs)
        except requests.RequestException as exc:
            raise _without_url_secrets(exc) from None

    def status(self) -> requests.Response:
        return self.request("GET", "/status")

    def health(self) -> requests.Response:
        return self.request("GET", "/health")

    def logs(self, **params: Any) -> requests.Response:
        return self.request("GET", "/logs", params=params)

    def update(
        self,
        body: Any = None,
        *,
        raw: bytes | str | None = None,
        key: object = OWN_KEY,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> requests.Response:
        """POST /update with a JSON body (or ``raw`` bytes as they are) and, by default, the
        client's key; ``key=None`` sends none, a string sends that one."""
        all_headers: dict[str, str] = {"Content-Type": "application/json", **(headers or {})}
        sent_key = self.api_key if key is OWN_KEY else key
        if isinstance(sent_key, str):
            all_headers[API_KEY_HEADER] = sent_key
        if raw is not None:
            return self.request("POST", "/update", data=raw, headers=all_headers, params=params)
        return self.request("POST", "/update", json=body, headers=all_headers, params=params)

    def current_state(self) -> dict[str, Any]:
        response = self.status()
        _raise_for_status(response)
        state: dict[str, Any] = response.json()["state"]
        return state

    def log_head(self) -> tuple[int, dict[str, Any] | None]:
        """The log's size and its newest row (None while the log is empty), from one read."""
        response = self.logs(page=1, limit=1)
        _raise_for_status(response)
        body = response.json()
        items: list[dict[str, Any]] = body["items"]
        return int(body["total"]), (items[0] if items else None)

    def log_total(self) -> int:
        return self.log_head()[0]

    def newest_entry(self) -> dict[str, Any] | None:
        """The newest row of the log, or None while the log is empty."""
        return self.log_head()[1]

    def all_logs(self) -> list[dict[str, Any]]:
        """Every row of the log, oldest first (by id), read page by page."""
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            response = self.logs(page=page, limit=100)
            _raise_for_status(response)
            items: list[dict[str, Any]] = response.json()["items"]
            if not items:
                return sorted(rows, key=lambda row: int(row["id"]))
            rows += items
            page += 1

    def walk_logs(self, limit: int) -> list[requests.Response]:
        """Every page of the log by cursor, newest first: the answers, in order, until one
        gives no next cursor (or is not a 200).

        A walk that begins at the newest entry can take no more pages than the log made when
        it began (its first answer's ``pages``): one whose cursors go on past those (a cycle)
        is an AssertionError, not an endless walk."""
        answers = [self.logs(limit=limit)]
        bound = answers[0].json()["pages"] if answers[0].status_code == 200 else 1
        while answers[-1].status_code == 200 and (cursor := answers[-1].json()["next_cursor"]):
            if len(answers) >= bound:
                raise AssertionError(
                    f"the walk by cursor goes on past the {bound} pages the log made: {cursor!r}"
                )
            answers.append(self.logs(cursor=cursor, limit=limit))
        return answers

    def set_state(self, **changes: Any) -> dict[str, Any]:
        """Update and insist it worked: for Givens that prepare a scenario."""
        response = self.update(changes)
        if response.status_code != 200:
            raise AssertionError(
                f"setting up the state failed: {response.status_code} {response.text}"
            )
        body: dict[str, Any] = response.json()
        return body

    def max_message_length(self) -> int:
        """The message limit the deployment declares in its OpenAPI document."""
        response = self.request("GET", "/openapi.json")
        _raise_for_status(response)
        schema = response.json()["components"]["schemas"]["UpdateRequest"]
        for option in schema["properties"]["message"]["anyOf"]:
            if "maxLength" in option:
                return int(option["maxLength"])
        raise AssertionError("the OpenAPI document declares no message limit")


def _raise_for_status(response: requests.Response) -> None:
    """``response.raise_for_status()``, the error's message without the URL's query."""
    try:
        response.raise_for_status()
    except requests.HTTPError as exc:
        raise _without_url_secrets(exc) from None


def _without_url_secrets(exc: requests.RequestException) -> requests.RequestException:
    """The same error, its message without a URL's user part or query: requests and urllib3
    write the whole URL of the failed request into it, and pytest prints it into the log."""
    message = without_url_secrets(str(exc))
    try:
        return type(exc)(message, request=exc.request, response=exc.response)
    except TypeError:  # a subclass with a constructor of its own: the base class says the same
        return requests.RequestException(message, request=exc.request, response=exc.response)
