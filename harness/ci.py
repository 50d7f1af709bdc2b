"""What the harness tells the CI runner it runs under: GitHub Actions' workflow commands.

A run's API key is a secret GitHub does not know about (the harness makes it, or is given it on
the command line), so GitHub cannot mask it in the job's log by itself. ``::add-mask::KEY`` on
stdout asks it to: every later line of the log shows ``***`` where the key was. It must come
before anything that could print the key, so it is said as soon as the key exists.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

#: Set to "true" by GitHub Actions in every step's environment.
GITHUB_ACTIONS = "GITHUB_ACTIONS"

Write = Callable[[str], None]

#: The secrets this process has asked GitHub to mask: each is asked for once.
_masked: set[str] = set()


def on_github_actions(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process runs in a GitHub Actions step."""
    environ = os.environ if environ is None else environ
    return environ.get(GITHUB_ACTIONS) == "true"


def _stdout(line: str) -> None:
    print(line, file=sys.stdout, flush=True)


def mask(
    secret: str | None, *, write: Write | None = None, environ: Mapping[str, str] | None = None
) -> None:
    """Ask GitHub Actions to hide ``secret`` in every log line after this one: one
    ``::add-mask::`` line, once per secret, through ``write`` (default: stdout, which is where
    the runner reads workflow commands; under pytest, a writer past its output capture).
    Outside GitHub Actions, and for no secret (None or ""), nothing is written."""
    if not secret or secret in _masked or not on_github_actions(environ):
        return
    # A workflow command's value is escaped as the runner unescapes it: a % or a line break
    # in a key given by hand would otherwise cut the command short and print the rest.
    escaped = secret.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    (write or _stdout)(f"::add-mask::{escaped}")
    _masked.add(secret)
