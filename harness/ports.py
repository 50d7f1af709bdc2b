"""Ports: the one the service listens on, free TCP ports on the loopback interface, and whether
a URL points at that interface."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

#: The port the service listens on, in its container and on the instance. The Dockerfile and
#: terraform/ write it too; harness.rules holds terraform/'s inbound rule to this one.
SERVICE_PORT = 5000
#: The host names the harness accepts as this machine's loopback.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine's loopback."""
    return urlsplit(url).hostname in LOOPBACK_HOSTS


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
