"""The application in process: its OpenAPI document, its errors, its logging."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.config import Settings
from app.main import create_app
from tests.conftest import failing_writes

KEY = "Test-Key-0123456789abcdef"


def make_client(db_path: Path, **settings: Any) -> TestClient:
    return TestClient(create_app(Settings(DATABASE_PATH=db_path, **settings)))


@pytest.fixture
def client(db_path: Path) -> Iterator[TestClient]:
    with make_client(db_path, API_KEY=SecretStr(KEY)) as test_client:
        yield test_client


def operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for item in schema["paths"].values() for op in item.values()]


def test_openapi_declares_400_never_422(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for operation in operations(schema):
        assert "422" not in operation["responses"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    update = schema["paths"]["/update"]["post"]["responses"]
    logs = schema["paths"]["/logs"]["get"]["responses"]
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    assert update["400"]["content"]["application/json"]["schema"] == error_ref
    assert logs["400"]["content"]["application/json"]["schema"] == error_ref


def test_openapi_declares_the_limits(db_path: Path) -> None:
    with make_client(db_path, MAX_MESSAGE_LENGTH=77) as test_client:
        schema = test_client.get("/openapi.json").json()
    body = schema["components"]["schemas"]["UpdateRequest"]
    counter = next(o for o in body["properties"]["counter"]["anyOf"] if o.get("type") == "integer")
    message = next(o for o in body["properties"]["message"]["anyOf"] if o.get("type") == "string")
    assert (counter["minimum"], counter["maximum"]) == (-(2**63), 2**63 - 1)
    assert message["maxLength"] == 77
    assert body["additionalProperties"] is False
    assert body["minProperties"] == 1
    params = {p["name"]: p["schema"] for p in schema["paths"]["/logs"]["get"]["parameters"]}
    assert params["page"]["minimum"] == 1
    assert (params["limit"]["minimum"], params["limit"]["maximum"]) == (1, 100)


def test_openapi_declares_the_key_only_when_one_is_set(client: TestClient, tmp_path: Path) -> None:
    keyed = client.get("/openapi.json").json()
    assert keyed["components"]["securitySchemes"]["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-KEY",
        "description": "Required by POST /update when the service is started with API_KEY set.",
    }
    update = keyed["paths"]["/update"]["post"]
    assert update["security"] == [{"APIKeyHeader": []}]
    assert "401" in update["responses"]
    assert "security" not in keyed["paths"]["/status"]["get"]
    with make_client(tmp_path / "open.db") as open_client:
        unkeyed = open_client.get("/openapi.json").json()
    assert "securitySchemes" not in unkeyed.get("components", {})
    assert "401" not in unkeyed["paths"]["/update"]["post"]["responses"]


def test_a_failed_log_write_answers_503_and_changes_nothing(
    client: TestClient, db_path: Path
) -> None:
    headers = {"X-API-KEY": KEY}
    assert client.post("/update", json={"counter": 1}, headers=headers).status_code == 200
    with failing_writes(db_path, message="disk I/O error at /secret/path"):
        response = client.post("/update", json={"counter": 2}, headers=headers)
    assert response.status_code == 503
    assert response.json() == {
        "detail": "the update could not be recorded, so the state was not changed",
        "errors": [],
    }
    assert client.get("/status").json()["state"]["counter"] == 1
    assert client.get("/logs").json()["total"] == 1


def test_an_empty_api_key_turns_auth_off_and_says_so(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app_logger = logging.getLogger("app")
    app_logger.addHandler(caplog.handler)
    try:
        with make_client(db_path, API_KEY=SecretStr("")) as test_client:
            assert test_client.post("/update", json={"counter": 1}).status_code == 200
    finally:
        app_logger.removeHandler(caplog.handler)
    warnings = [r for r in caplog.records if "API_KEY is not set" in r.getMessage()]
    assert len(warnings) == 1


def test_the_key_is_never_logged(db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    app_logger = logging.getLogger("app")
    app_logger.addHandler(caplog.handler)
    try:
        with make_client(db_path, API_KEY=SecretStr(KEY)) as test_client:
            test_client.post("/update", json={"counter": 1}, headers={"X-API-KEY": KEY})
            test_client.post("/update", json={"counter": 2}, params={"api_key": KEY})
            test_client.post("/update", json={"counter": 3, KEY: 1}, headers={"X-API-KEY": KEY})
            test_client.get("/status", params={"X-API-KEY": KEY})
    finally:
        app_logger.removeHandler(caplog.handler)
    lines = [r.getMessage() for r in caplog.records if r.name.split(".")[0] in ("app", "uvicorn")]
    assert any("POST /update 200" in line for line in lines), lines
    assert not [line for line in lines if KEY in line]


def test_settings_hide_the_key_when_printed() -> None:
    settings = Settings(API_KEY=SecretStr(KEY))
    assert KEY not in repr(settings)
    assert KEY not in str(settings.model_dump())
    assert settings.api_key == KEY


@pytest.mark.parametrize("path", ["/status/", "/update/", "/logs/", "/health/"])
def test_a_trailing_slash_is_an_unknown_path_not_a_redirect(client: TestClient, path: str) -> None:
    method = "POST" if path.startswith("/update") else "GET"
    response = client.request(
        method,
        path + "?api_key=" + KEY,
        headers={"Host": "elsewhere.example", "X-API-KEY": KEY},
        json={"counter": 1},
        follow_redirects=False,
    )
    assert response.status_code == 404, response.text
    assert response.json() == {"detail": "Not Found", "errors": []}
    assert "location" not in response.headers
    assert client.get("/logs").json()["total"] == 0
