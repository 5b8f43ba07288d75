"""Helpers the test modules share (test modules never import each other)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A local port nothing listens on (bound, then released): connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
