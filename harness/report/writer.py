"""Allure's result writer, with every secret scrubbed before a byte reaches the disk.

Everything the report holds passes through here: test results (names, parameters, labels,
failure messages and traces), containers, globals and attachments (captured output
included). So the key is redacted in one place, whatever part of a run put it there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from allure_commons import hookimpl
from allure_commons.logger import AllureFileLogger
from allure_commons.model2 import GLOBALS_PATTERN
from attr import asdict

from harness.redact import SECRETS, Redactor


class RedactingFileLogger(AllureFileLogger):
    """AllureFileLogger that writes what it is given with the secrets of ``redactor`` out."""

    def __init__(
        self, report_dir: str | Path, clean: bool = False, *, redactor: Redactor = SECRETS
    ) -> None:
        super().__init__(report_dir, clean)  # type: ignore[no-untyped-call]
        self.redactor = redactor
        self.directory = Path(report_dir).absolute()

    def _report_item(self, item: Any) -> None:
        data = asdict(item, filter=lambda _, value: value or value is False)
        filename = item.file_pattern.format(prefix=os.urandom(16).hex())
        self._write(filename, json.dumps(self.redactor.data(data), ensure_ascii=False).encode())

    @hookimpl
    def report_attached_file(self, source: str | Path, file_name: str) -> None:
        self._write(file_name, Path(source).read_bytes())

    @hookimpl
    def report_attached_data(self, body: str | bytes, file_name: str) -> None:
        self._write(file_name, body.encode() if isinstance(body, str) else body)

    def write_globals(self, document: dict[str, Any]) -> None:
        """A globals file of the caller's making: allure-python's Globals has no
        ``environment``, which Allure Report 3 reads to show an attachment per environment."""
        filename = GLOBALS_PATTERN.format(prefix=os.urandom(16).hex())
        self._write(filename, json.dumps(self.redactor.data(document), ensure_ascii=False).encode())

    def _write(self, file_name: str, content: bytes) -> None:
        final = self.directory / file_name
        partial = final.with_name(f"{file_name}.tmp")
        partial.write_bytes(self.redactor.bytes(content))
        partial.replace(final)
