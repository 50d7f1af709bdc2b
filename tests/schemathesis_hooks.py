"""Schemathesis hooks for tests/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

A cursor is valid only when this log issued it, which no schema can say: every generated
cursor is schema-valid and refused (400), so Schemathesis's "schema-valid input is accepted"
check cannot hold for one. Requests with a cursor are left out here, and held to their promises
by tests/test_bad_input.py (refusals) and features/logs.feature (a walk by cursor).
"""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.hook
def filter_query(ctx: Any, query: dict[str, Any] | None) -> bool:
    return not query or "cursor" not in query
