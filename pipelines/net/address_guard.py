"""Refuse private, loopback and link-local addresses at connect time, after DNS resolution.

The check sits in httpcore's network backend, so it applies to every connection the
client opens (first request and every redirect) and connects to the very address
that was checked, which defeats DNS rebinding between check and connect.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable

import httpcore

from pipelines.errors import AddressRefused

Resolver = Callable[[str, int], Awaitable[list[str]]]
PrivateAccess = bool | tuple[str, ...]  # any private address, none, or these networks only


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"DNS lookup for {host} failed: {exc.strerror or exc}") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def address_allowed(address: str, allow_private: PrivateAccess) -> bool:
    if allow_private is True or is_public_address(address):
        return True
    if not allow_private:
        return False
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return any(ip in ipaddress.ip_network(network, strict=False) for network in allow_private)


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, *, allow_private: PrivateAccess, resolver: Resolver = system_resolver,
                 inner: httpcore.AsyncNetworkBackend | None = None):
        self.allow_private = allow_private
        self.resolver = resolver
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable | None = None) -> httpcore.AsyncNetworkStream:
        literal = _ip_literal(host)
        addresses = [literal] if literal else await self.resolver(host, port)
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no addresses")
        refused = [a for a in addresses if not address_allowed(a, self.allow_private)]
        if refused:
            raise AddressRefused(
                f"{host} resolves to non-public address {refused[0]}: refused "
                "(allow it with allow_private_networks on the source)"
            )
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                    socket_options=socket_options)
            except httpcore.ConnectError as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable | None = None) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)
