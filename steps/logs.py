"""Steps for GET /logs."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from pytest_bdd import parsers, then, when

from harness.client import ApiClient
from steps.common import (
    Made,
    assert_now,
    assert_timestamp_format,
    exact,
    parse_utc,
    state,
    state_step,
)


def entries(answer: requests.Response) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


@when(
    parsers.re(
        r"a client reads page (?P<page>\S+) of the log with (?P<limit>\S+) entr(y|ies) per page"
    ),
    target_fixture="answer",
)
def read_page(client: ApiClient, page: str, limit: str) -> requests.Response:
    # Sent as written, so that the spec can ask for a page or a limit the service refuses.
    return client.logs(page=page, limit=limit)


@when(
    parsers.parse(
        "a client reads pages {first:d} to {last:d} of the log with {limit:d} entries per page"
    ),
    target_fixture="answers",
)
def read_pages(client: ApiClient, first: int, last: int, limit: int) -> list[requests.Response]:
    return [client.logs(page=page, limit=limit) for page in range(first, last + 1)]


@when(
    parsers.parse(
        "a client reads the last page of the log with {limit:d} entries per page, "
        "and the page after it"
    ),
    target_fixture="answers",
)
def read_last_pages(client: ApiClient, limit: int) -> list[requests.Response]:
    pages = client.logs(page=1, limit=limit).json()["pages"]
    return [client.logs(page=pages, limit=limit), client.logs(page=pages + 1, limit=limit)]


@when("a client reads the log without choosing a page or a limit", target_fixture="answer")
def read_default_page(client: ApiClient) -> requests.Response:
    return client.logs()


@when(
    parsers.parse("a client walks the whole log by cursor with {limit:d} entries per page"),
    target_fixture="walk",
)
def walk_by_cursor(client: ApiClient, limit: int) -> list[requests.Response]:
    return client.walk_logs(limit)


@when(
    parsers.parse("a client reads the newest {limit:d} entries of the log by cursor"),
    target_fixture="cursor_reads",
)
def read_newest_by_cursor(client: ApiClient, limit: int) -> list[requests.Response]:
    return [client.logs(limit=limit)]


@when(parsers.parse("the client makes {count:d} more updates"), target_fixture="more")
def make_more_updates(client: ApiClient, count: int) -> list[dict[str, Any]]:
    return [client.set_state(message=f"during the walk {n}") for n in range(count)]


@when(
    parsers.parse("the client reads the next {limit:d} entries by cursor"),
    target_fixture="cursor_reads",
)
def read_next_by_cursor(
    client: ApiClient, cursor_reads: list[requests.Response], limit: int
) -> list[requests.Response]:
    cursor = cursor_reads[-1].json()["next_cursor"]
    assert cursor, "the read before this one gave no next cursor"
    return [*cursor_reads, client.logs(cursor=cursor, limit=limit)]


@when(
    parsers.parse(
        "a client reads the log by the cursor of its first page and by page {page:d} at once"
    ),
    target_fixture="answer",
)
def read_by_cursor_and_page(client: ApiClient, page: int) -> requests.Response:
    cursor = client.logs(limit=1).json()["next_cursor"]
    assert cursor, "the log has one page only"
    return client.logs(cursor=cursor, page=page, limit=1)


@then("the walk holds every entry of the log exactly once, newest first")
def walk_holds_everything(walk: list[requests.Response], client: ApiClient) -> None:
    # The log read page by page, oldest first by id: the walk must be exactly it, reversed
    # (a missed entry, a repeated one or another order all differ).
    walked = [entry["id"] for answer in walk for entry in entries(answer)]
    assert walked == [row["id"] for row in client.all_logs()][::-1]


@then(parsers.parse("the walk begins with those {count:d} updates, newest first"))
def walk_begins_with(walk: list[requests.Response], made: Made, count: int) -> None:
    newest = [entry for answer in walk for entry in entries(answer)][:count]
    assert newest == made.entries[::-1], "the walk does not begin with the updates made"


@then("each page of the walk is the numbered page of the same size and place")
def walk_pages_are_numbered_pages(walk: list[requests.Response], client: ApiClient) -> None:
    limit = walk[0].json()["limit"]
    pages = client.logs(page=1, limit=limit).json()["pages"]
    numbered = [client.logs(page=number, limit=limit).json() for number in range(1, pages + 1)]
    # The walk starts without a cursor (page 1); a page asked for by cursor has no number.
    for body in numbered[1:]:
        body["page"] = None
    walked = [answer.json() for answer in walk]
    for body in [*walked, *numbered]:
        body.pop("next_cursor")
    assert walked == numbered


@then("only the last page of the walk has no next cursor")
def only_last_page_ends(walk: list[requests.Response]) -> None:
    # The walk went on while a page gave a cursor, so every page before the last gave one;
    # what is left to check is that each is a string, and that the last page says None.
    cursors = [answer.json()["next_cursor"] for answer in walk]
    given = [isinstance(cursor, str) for cursor in cursors]
    assert (given, cursors[-1]) == ([True] * (len(cursors) - 1) + [False], None), cursors


@then(
    parsers.parse(
        "together the reads hold those {count:d} updates, newest first, each exactly once"
    )
)
def reads_hold_updates(
    cursor_reads: list[requests.Response], made: Made, more: list[dict[str, Any]], count: int
) -> None:
    # Made before the walk: a newer update that shifted it would show up among them.
    read = [entry for answer in cursor_reads for entry in entries(answer)]
    assert (len(made.entries), read) == (count, made.entries[::-1])


@when("a client reads the log from a cursor the log did not issue", target_fixture="answer")
def read_by_forged_cursor(client: ApiClient) -> requests.Response:
    # One example of the rule; tests/test_bad_input.py holds the garbled, forged and foreign.
    return client.logs(cursor="not-a-cursor-this-log-issued", limit=10)


@then(state_step("the log's newest entry records {old} becoming {new}"))
def newest_entry_records(
    client: ApiClient, old_counter: str, old_message: str, new_counter: str, new_message: str
) -> None:
    newest = client.newest_entry() or {}
    recorded = [newest.get("old_value"), newest.get("new_value")]
    expected = [state(old_counter, old_message), state(new_counter, new_message)]
    assert exact(recorded) == exact(expected)


@then(
    "the log's newest entry's time is written in UTC as ISO 8601, to the microsecond, ending in Z"
)
def newest_entry_time_format(client: ApiClient) -> None:
    assert_timestamp_format((client.newest_entry() or {}).get("timestamp"))


@then("the log's newest entry's time is now")
def newest_entry_time_now(client: ApiClient) -> None:
    assert_now((client.newest_entry() or {})["timestamp"])


@then(parsers.parse("the entries are those {count:d} updates, newest first"))
def entries_are_updates(answer: requests.Response, made: Made, count: int) -> None:
    assert (len(made.entries), entries(answer)) == (count, made.entries[::-1])


@then("each entry starts from the state the one below it left")
def entries_chain(answer: requests.Response) -> None:
    pairs = list(itertools.pairwise(entries(answer)))
    starts = [newer["old_value"] for newer, _ in pairs]
    left = [older["new_value"] for _, older in pairs]
    # Fewer than two entries make no chain: that fails too, rather than passing unchecked.
    assert (bool(pairs), exact(starts)) == (True, exact(left))


@then("no entry's time is earlier than the time of the entry below it")
def entries_in_time_order(answer: requests.Response) -> None:
    times = [parse_utc(entry["timestamp"]) for entry in entries(answer)]
    # Fewer than two entries make no order: that fails too, rather than passing unchecked.
    assert (len(times) >= 2, times) == (True, sorted(times, reverse=True))


@then(
    parsers.parse(
        "together the pages hold those {count:d} updates, newest first, each exactly once"
    )
)
def pages_hold_updates(answers: list[requests.Response], made: Made, count: int) -> None:
    listed = [entry for answer in answers for entry in entries(answer)]
    ids = [entry["id"] for entry in listed]
    repeated = sorted({id for id in ids if ids.count(id) > 1})
    assert (listed[:count], repeated) == (made.entries[::-1][:count], []), ids


@then(parsers.parse("every page holds at most {limit:d} entries"))
def pages_hold_at_most(answers: list[requests.Response], limit: int) -> None:
    sizes = [len(entries(answer)) for answer in answers]
    assert max(sizes) <= limit, sizes


@then("every page counts the whole log and the pages it makes")
def pages_count_log(answers: list[requests.Response], client: ApiClient) -> None:
    total = client.log_total()
    counted, expected = [], []
    for page_number, answer in enumerate(answers, start=1):
        body = answer.json()
        limit = int(parse_qs(urlsplit(answer.url).query)["limit"][0])
        counted.append((body["page"], body["limit"], body["total"], body["pages"]))
        expected.append((page_number, limit, total, -(-total // limit)))
    assert counted == expected


@then("the last page holds the entries left over after the full pages")
def last_page_holds_rest(answers: list[requests.Response]) -> None:
    body = answers[0].json()
    left_over = body["total"] - (body["pages"] - 1) * body["limit"]
    assert 0 < len(body["items"]) == left_over <= body["limit"], body


@then("the page after the last is empty, with the same total")
def page_after_last_empty(answers: list[requests.Response]) -> None:
    last, after = (answer.json() for answer in answers)
    shown = (after["items"], after["page"], after["total"], after["pages"])
    assert shown == ([], last["page"] + 1, last["total"], last["pages"])


@then(parsers.parse("the page is page {page:d} with a limit of {limit:d}"))
def page_is(answer: requests.Response, page: int, limit: int) -> None:
    body = answer.json()
    assert (body["page"], body["limit"]) == (page, limit)


@then(parsers.parse("the page holds the newest {count:d} of those updates"))
def page_holds_newest(answer: requests.Response, made: Made, count: int) -> None:
    assert entries(answer) == made.entries[::-1][:count]


@then("the page holds no entries")
def page_empty(answer: requests.Response) -> None:
    body = answer.json()
    assert (body["items"], body["pages"] < body["page"]) == ([], True), body
