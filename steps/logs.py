"""Steps for GET /logs."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from pytest_bdd import parsers, then, when

from harness.client import ApiClient
from steps.common import Made, assert_state, assert_utc_iso8601_now, parse_utc, state_step


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
    ids = [entry["id"] for answer in walk for entry in entries(answer)]
    assert len(ids) == len(set(ids)), "an entry appears twice"
    assert ids == sorted(ids, reverse=True), "the walk is not newest first"
    assert [row["id"] for row in client.all_logs()] == ids[::-1], "the walk missed entries"
    assert all(answer.json()["total"] == len(ids) for answer in walk)


@then(parsers.parse("the walk begins with those {count:d} updates, newest first"))
def walk_begins_with(walk: list[requests.Response], made: Made, count: int) -> None:
    newest = [entry for answer in walk for entry in entries(answer)][:count]
    assert newest == made.entries[::-1], "the walk does not begin with the updates made"


@then("each page of the walk is the numbered page of the same size and place")
def walk_pages_are_numbered_pages(walk: list[requests.Response], client: ApiClient) -> None:
    for number, answer in enumerate(walk, start=1):
        body = answer.json()
        # The walk starts without a cursor (page 1); a page asked for by cursor has no number.
        assert body["page"] == (1 if number == 1 else None), body["page"]
        numbered = client.logs(page=number, limit=body["limit"]).json()
        assert numbered["items"] == body["items"], f"page {number} differs"
        assert (numbered["total"], numbered["pages"]) == (body["total"], body["pages"])
    assert len(walk) == walk[0].json()["pages"]


@then("only the last page of the walk has no next cursor")
def only_last_page_ends(walk: list[requests.Response]) -> None:
    # The walk went on while a page gave a cursor, so every page before the last gave one;
    # what is left to check is that each is a string, and that the last page says None.
    cursors = [answer.json()["next_cursor"] for answer in walk]
    assert all(isinstance(cursor, str) for cursor in cursors[:-1]), cursors
    assert cursors[-1] is None, cursors


@then(
    parsers.parse(
        "together the reads hold those {count:d} updates, newest first, each exactly once"
    )
)
def reads_hold_updates(
    cursor_reads: list[requests.Response], made: Made, more: list[dict[str, Any]], count: int
) -> None:
    read = [entry for answer in cursor_reads for entry in entries(answer)]
    ids = [entry["id"] for entry in read]
    assert len(read) == count
    assert read == made.entries[::-1], "the reads are not those updates, newest first"
    assert not {answer["log_id"] for answer in more} & set(ids), "a newer update shifted the walk"


@when("a client reads the log from a cursor the log did not issue", target_fixture="answer")
def read_by_forged_cursor(client: ApiClient) -> requests.Response:
    # One example of the rule; tests/test_bad_input.py holds the garbled, forged and foreign.
    return client.logs(cursor="not-a-cursor-this-log-issued", limit=10)


@then(state_step("the log's newest entry records {old} becoming {new}"))
def newest_entry_records(
    client: ApiClient, old_counter: str, old_message: str, new_counter: str, new_message: str
) -> None:
    newest = client.newest_entry()
    assert newest is not None, "the log is empty"
    assert_state(newest["old_value"], old_counter, old_message)
    assert_state(newest["new_value"], new_counter, new_message)


@then("the log's newest entry's time is now, in UTC, written in ISO 8601 and ending in Z")
def newest_entry_time(client: ApiClient) -> None:
    newest = client.newest_entry()
    assert newest is not None, "the log is empty"
    assert_utc_iso8601_now(newest["timestamp"])


@then(parsers.parse("the entries are those {count:d} updates, newest first"))
def entries_are_updates(answer: requests.Response, made: Made, count: int) -> None:
    assert len(made.entries) == count
    assert entries(answer) == made.entries[::-1]


@then("each entry starts from the state the one below it left")
def entries_chain(answer: requests.Response) -> None:
    listed = entries(answer)
    assert len(listed) >= 2, "a chain needs two entries"
    for newer, older in itertools.pairwise(listed):
        assert newer["old_value"] == older["new_value"], (older, newer)


@then("no entry's time is earlier than the time of the entry below it")
def entries_in_time_order(answer: requests.Response) -> None:
    times = [parse_utc(entry["timestamp"]) for entry in entries(answer)]
    assert len(times) >= 2, "an order needs two entries"
    assert times == sorted(times, reverse=True), times


@then(
    parsers.parse(
        "together the pages hold those {count:d} updates, newest first, each exactly once"
    )
)
def pages_hold_updates(answers: list[requests.Response], made: Made, count: int) -> None:
    listed = [entry for answer in answers for entry in entries(answer)]
    ids = [entry["id"] for entry in listed]
    assert len(ids) == len(set(ids)), f"an entry appears twice: {ids}"
    assert len(made.entries) == count
    assert listed[:count] == made.entries[::-1], ids


@then(parsers.parse("every page holds at most {limit:d} entries"))
def pages_hold_at_most(answers: list[requests.Response], limit: int) -> None:
    sizes = [len(entries(answer)) for answer in answers]
    assert max(sizes) <= limit, sizes


@then("every page counts the whole log and the pages it makes")
def pages_count_log(answers: list[requests.Response], client: ApiClient) -> None:
    total = client.log_total()
    for page_number, answer in enumerate(answers, start=1):
        body = answer.json()
        asked = parse_qs(urlsplit(answer.url).query)
        limit = int(asked["limit"][0])
        assert (body["page"], body["limit"]) == (page_number, limit), body
        assert body["total"] == total
        assert body["pages"] == -(-total // limit)


@then("the last page holds the entries left over after the full pages")
def last_page_holds_rest(answers: list[requests.Response]) -> None:
    body = answers[0].json()
    full_pages = body["pages"] - 1
    assert len(body["items"]) == body["total"] - full_pages * body["limit"]
    assert 0 < len(body["items"]) <= body["limit"]


@then("the page after the last is empty, with the same total")
def page_after_last_empty(answers: list[requests.Response]) -> None:
    last, after = (answer.json() for answer in answers)
    assert after["items"] == []
    assert after["page"] == last["page"] + 1
    assert (after["total"], after["pages"]) == (last["total"], last["pages"])


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
    assert body["items"] == []
    assert body["pages"] < body["page"]
