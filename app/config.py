"""Configuration, read once from the environment.

Nothing else in the service reads ``os.environ``: every setting is a field here, named like
its environment variable, with a default that runs locally without any setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings of the service, one field per environment variable."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore")

    DATABASE_PATH: Path = Field(
        default=Path("data/logs.db"),
        description="SQLite file holding the update log; its directory is created if missing.",
    )
    API_KEY: SecretStr | None = Field(
        default=None,
        description="When set and not empty, POST /update needs it in the X-API-KEY header.",
    )
    MAX_MESSAGE_LENGTH: int = Field(
        default=1024,
        ge=1,
        le=1_000_000,
        description="Longest accepted message, in characters.",
    )
    MAX_BODY_BYTES: int = Field(
        default=16 * 1024,
        ge=64,
        le=16 * 1024 * 1024,
        description="Largest accepted request body.",
    )
    SQLITE_SYNCHRONOUS: Literal["FULL", "NORMAL"] = Field(
        default="FULL",
        description="FULL: an answered update survives power loss; NORMAL: only a process crash.",
    )
    HEADER_TIMEOUT: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds a client has to send a request's line and headers (from its "
        "connection, or from the previous answer); then it is answered 408 and disconnected.",
    )
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @property
    def api_key(self) -> str | None:
        """The configured key, or None when authentication is off (unset or empty)."""
        if self.API_KEY is None:
            return None
        return self.API_KEY.get_secret_value() or None


settings = Settings()
