"""Steps for GET /logs."""

from __future__ import annotations

from typing import Any

import requests
from pytest_bdd import parsers, then, when

from harness.client import ApiClient
from steps.common import Made, assert_utc_iso8601_now


def entries(answer: requests.Response) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


@when(
    parsers.re(
        r"a client reads page (?P<page>\d+) of the log with (?P<limit>\d+) entr(y|ies) per page"
    ),
    converters={"page": int, "limit": int},
    target_fixture="answer",
)
def read_page(client: ApiClient, page: int, limit: int) -> requests.Response:
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


@when(parsers.parse('a client reads the log with "{query}"'), target_fixture="answer")
def read_with_query(client: ApiClient, query: str) -> requests.Response:
    return client.request("GET", f"/logs?{query}")


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
    ids = [entry["id"] for answer in walk for entry in entries(answer)]
    assert ids[:count] == made.ids[::-1]
    newest = [entry for answer in walk for entry in entries(answer)][:count]
    assert [entry["new_value"] for entry in newest] == [a["state"] for a in made.answers[::-1]]


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
    cursors = [answer.json()["next_cursor"] for answer in walk]
    assert all(isinstance(cursor, str) and cursor for cursor in cursors[:-1]), cursors
    assert cursors[-1] is None


@then(
    parsers.parse(
        "together the reads hold those {count:d} updates, newest first, each exactly once"
    )
)
def reads_hold_updates(
    cursor_reads: list[requests.Response], made: Made, more: list[dict[str, Any]], count: int
) -> None:
    ids = [entry["id"] for answer in cursor_reads for entry in entries(answer)]
    assert len(ids) == count
    assert ids == made.ids[::-1], f"{ids} are not the updates {made.ids[::-1]}, newest first"
    assert not {answer["log_id"] for answer in more} & set(ids), "a newer update shifted the walk"


@then(
    parsers.parse(
        'the newest entry records counter {old_counter:d} and message "{old_message}" '
        'becoming counter {new_counter:d} and message "{new_message}"'
    )
)
def newest_entry_records(
    answer: requests.Response,
    old_counter: int,
    old_message: str,
    new_counter: int,
    new_message: str,
) -> None:
    newest = entries(answer)[0]
    assert newest["old_value"] == {"counter": old_counter, "message": old_message}
    assert newest["new_value"] == {"counter": new_counter, "message": new_message}


@then("the newest entry is the update the client was answered with")
def newest_is_answered_update(client: ApiClient, answer: requests.Response) -> None:
    assert client.last_update is not None, "the scenario made no update"
    answered = client.last_update.json()
    newest = entries(answer)[0]
    assert newest["id"] == answered["log_id"]
    assert newest["timestamp"] == answered["timestamp"]
    assert (newest["old_value"], newest["new_value"]) == (answered["old_state"], answered["state"])


@then("the newest entry's time is in UTC, written in ISO 8601 and ending in Z")
def newest_entry_time(answer: requests.Response) -> None:
    assert_utc_iso8601_now(entries(answer)[0]["timestamp"])


@then(parsers.parse("the entries are those {count:d} updates, newest first"))
def entries_are_updates(answer: requests.Response, made: Made, count: int) -> None:
    listed = entries(answer)
    assert [entry["id"] for entry in listed] == made.ids[::-1][:count]
    assert [entry["new_value"] for entry in listed] == [a["state"] for a in made.answers[::-1]]


@then(
    parsers.parse(
        "together the pages hold those {count:d} updates, newest first, each exactly once"
    )
)
def pages_hold_updates(answers: list[requests.Response], made: Made, count: int) -> None:
    ids = [entry["id"] for answer in answers for entry in entries(answer)]
    assert len(ids) == len(set(ids)), f"an entry appears twice: {ids}"
    assert ids[:count] == made.ids[::-1], ids


@then(parsers.parse("every page holds at most {limit:d} entries"))
def pages_hold_at_most(answers: list[requests.Response], limit: int) -> None:
    assert all(len(entries(answer)) <= limit for answer in answers)
    assert all(answer.json()["limit"] == limit for answer in answers)


@then("every page counts the whole log and the pages it makes")
def pages_count_log(answers: list[requests.Response], client: ApiClient) -> None:
    total = client.log_total()
    for page_number, answer in enumerate(answers, start=1):
        body = answer.json()
        assert body["page"] == page_number
        assert body["total"] == total
        assert body["pages"] == -(-total // body["limit"])


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
    assert [entry["id"] for entry in entries(answer)] == made.ids[::-1][:count]


@then("the page holds no entries")
def page_empty(answer: requests.Response) -> None:
    body = answer.json()
    assert body["items"] == []
    assert body["pages"] < body["page"]
