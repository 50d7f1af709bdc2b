"""The loopback rule: the rehearsal talks to this machine only, never to an address an AWS
emulator hands out (those are real public addresses)."""

from __future__ import annotations

import re

import pytest

from harness.ports import is_loopback
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
