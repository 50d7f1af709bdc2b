"""The update body: which numbers are a counter.

Found by Schemathesis (ST202, schema-valid request rejected): the OpenAPI 3.1 document declares
the counter ``"type": "integer"``, and JSON Schema 2020-12 counts ``2.0`` as an integer, so
refusing it broke the service's own document.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.config import Settings
from app.main import create_app
from app.models import INT64_MAX, INT64_MIN, update_request_model

UpdateRequest = update_request_model(max_message_length=16)


@pytest.mark.parametrize(
    ("raw", "counter"),
    [
        ("2.0", 2),
        ("-2122.0", -2122),
        ("0.0", 0),
        ("-0.0", 0),
        ("1e3", 1000),
        ("9223372036854775807", INT64_MAX),
        ("-9223372036854775808", INT64_MIN),
    ],
)
def test_a_whole_number_is_a_counter_however_it_is_written(raw: str, counter: int) -> None:
    parsed = UpdateRequest.model_validate(json.loads(f'{{"counter": {raw}}}'))
    assert parsed.counter == counter
    assert type(parsed.counter) is int


@pytest.mark.parametrize(
    "raw",
    ['"5"', "1.5", "-0.5", "true", "false", "1e30", "9223372036854775808", "NaN", "Infinity"],
)
def test_a_number_that_is_not_a_whole_int64_is_refused(raw: str) -> None:
    value: Any = json.loads(f'{{"counter": {raw}}}')
    with pytest.raises(ValidationError) as caught:
        UpdateRequest.model_validate(value)
    assert [error["loc"] for error in caught.value.errors()] == [("counter",)]


def test_a_whole_float_is_stored_and_answered_as_an_integer(tmp_path: Path) -> None:
    app = create_app(Settings(DATABASE_PATH=tmp_path / "logs.db"))
    with TestClient(app) as client:
        response = client.post(
            "/update", content=b'{"counter": 2.0}', headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 200, response.text
        assert '"counter":2,' in response.text
        assert client.get("/status").json()["state"]["counter"] == 2
        newest = client.get("/logs", params={"limit": 1}).json()["items"][0]
        assert '"counter":2,' in json.dumps(newest["new_value"], separators=(",", ":"))
