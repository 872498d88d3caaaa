"""Network streams that answer httpcore's idle-connection check with one poll().

Before each request, and again as each response closes, httpcore's pool asks every pooled
connection whether its socket has data waiting (a keep-alive connection the server closed
has). AnyIO's streams look the socket up through their typed attributes on every ask, about
6.6 us against 0.9 us for the poll itself. An unchanged re-run of 3,000 sources on one loopback
origin, 32 at once, took 16.6-18.7 s, and 12.3-12.7 s with the socket looked up once; spread
over 8 origins, 4 connections each (bench/scale.py), the difference did not show.
"""

from __future__ import annotations

import select
import socket
import typing

import httpcore


class KnownSocketStream(httpcore.AsyncNetworkStream):
    """Wraps a connected stream; holds its socket, found once when the stream is made."""

    def __init__(self, inner: httpcore.AsyncNetworkStream):
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        return KnownSocketStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable" and self._socket is not None:
            return socket_readable(self._socket)
        return self._inner.get_extra_info(info)


def socket_readable(sock: socket.socket) -> bool:
    """True when a recv() would return at once: data waiting, or the peer closed (as httpcore
    means it; a socket already closed here counts as readable, its next read being b"")."""
    fd = sock.fileno()
    if fd < 0:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))
