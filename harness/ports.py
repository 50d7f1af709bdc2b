"""Ports: the one the service listens on, free TCP ports on the loopback interface, and whether
a URL points at that interface."""

from __future__ import annotations

import random
import socket
from pathlib import Path
from urllib.parse import urlsplit

#: The port the service listens on, in its container and on the instance. The Dockerfile and
#: terraform/ write it too; harness.rules holds terraform/'s inbound rule to this one.
SERVICE_PORT = 5000
#: The host names the harness accepts as this machine's loopback.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
#: Where Linux keeps the range it picks local ports from (for connect() and for bind to 0).
EPHEMERAL_RANGE_PATH = Path("/proc/sys/net/ipv4/ip_local_port_range")
#: Linux's default ephemeral range, where the file above cannot be read.
DEFAULT_EPHEMERAL_RANGE = (32768, 60999)
#: The lowest port :func:`stable_port` picks (above the registered ports most services use).
STABLE_PORTS_FROM = 10000


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine's loopback."""
    return urlsplit(url).hostname in LOOPBACK_HOSTS


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it, from its ephemeral range)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def ephemeral_range(path: Path = EPHEMERAL_RANGE_PATH) -> tuple[int, int]:
    """The first and last port of the kernel's ephemeral range."""
    try:
        low, high = (int(field) for field in path.read_text().split())
    except (OSError, ValueError):
        return DEFAULT_EPHEMERAL_RANGE
    return low, high


def stable_port(host: str = "127.0.0.1", tries: int = 200) -> int:
    """A free port below the kernel's ephemeral range, for a listener that goes away and must
    come back on the same port (a sandbox's published port across a reboot).

    A port of the ephemeral range, free when picked, may meanwhile become the local port of
    any outgoing connection on the machine; the listener then cannot bind it again
    ("address already in use"). No connection is given a port below the range."""
    low, _ = ephemeral_range()
    candidates = range(STABLE_PORTS_FROM, max(low, STABLE_PORTS_FROM + 1))
    picks = random.sample(candidates, min(tries, len(candidates)))  # nosec B311 - not a secret
    for port in picks:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise OSError(f"no free port on {host} in {STABLE_PORTS_FROM}-{low - 1} after {tries} tries")
