"""The loopback rule: the rehearsal talks to this machine only, never to an address an AWS
emulator hands out (those are real public addresses)."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from harness import ports
from harness.ports import (
    DEFAULT_EPHEMERAL_RANGE,
    STABLE_PORTS_FROM,
    ephemeral_range,
    is_loopback,
    stable_port,
)
from harness.rehearsal import RehearsalError, require_loopback


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:5000", "http://localhost:8080/", "http://LOCALHOST:1"]
)
def test_loopback_urls_are_loopback(url: str) -> None:
    assert is_loopback(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://54.1.2.3:5000",  # an emulator's "public IP"
        "http://127.0.0.1.example.com:5000",  # a name that only starts like loopback
        "http://127.0.0.1@54.1.2.3:5000/",  # user info before the real host
        "http://[::1]:5000",  # IPv6 loopback: the harness binds and accepts IPv4 only
        "127.0.0.1:5000",  # no scheme: no host at all
    ],
)
def test_anything_else_is_not(url: str) -> None:
    assert not is_loopback(url)


def test_the_rehearsal_refuses_an_address_off_this_machine() -> None:
    expected = re.escape("must be on 127.0.0.1, not http://54.1.2.3:5000")
    with pytest.raises(RehearsalError, match=expected):
        require_loopback("http://54.1.2.3:5000", "the instance's API")


def test_the_rehearsal_takes_a_loopback_url_without_its_trailing_slash() -> None:
    assert require_loopback("http://127.0.0.1:5000/", "the AWS emulator") == "http://127.0.0.1:5000"


def test_a_stable_port_is_free_and_below_the_ephemeral_range() -> None:
    low, high = ephemeral_range()
    assert low <= high

    for _ in range(20):
        port = stable_port()
        assert STABLE_PORTS_FROM <= port < low
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # it is free


def test_a_stable_port_skips_one_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # The range below the "ephemeral" one holds that one port only, and it is taken.
        monkeypatch.setattr(ports, "STABLE_PORTS_FROM", port)
        monkeypatch.setattr(ports, "ephemeral_range", lambda: (port + 1, 60999))
        with pytest.raises(OSError, match="no free port"):
            ports.stable_port()
    assert ports.stable_port() == port  # free again


def test_the_ephemeral_range_is_read_from_the_kernel_or_defaults(tmp_path: Path) -> None:
    written = tmp_path / "range"
    written.write_text("40000\t50000\n")
    assert ephemeral_range(written) == (40000, 50000)
    assert ephemeral_range(tmp_path / "absent") == DEFAULT_EPHEMERAL_RANGE
