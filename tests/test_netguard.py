"""Server-side request forgery guard, with a stub resolver and a network backend that can only
reach the loopback test server: no packet can leave 127.0.0.0/8 whatever the code under test does."""

from __future__ import annotations

import asyncio

import httpcore
import pytest

from pipelines.errors import AddressRefused
from pipelines.net.http import Fetcher, HttpSettings
from pipelines.net.address_guard import is_public_address
from tests.conftest import CORPUS, serve_file

PUBLIC_NAME = "council.example"      # resolves (in the stub) to a public address
PUBLIC_ADDRESS = "93.184.216.34"
METADATA_NAME = "metadata.internal"  # resolves to the cloud metadata address


class LoopbackOnlyBackend(httpcore.AsyncNetworkBackend):
    """Stands in for the real network: the 'public' address is served by the loopback test
    server; any other connect fails loudly and is recorded, so a leak would show."""

    def __init__(self, loopback_port: int):
        self.loopback_port = loopback_port
        self.connects: list[tuple[str, int]] = []
        self.real = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.connects.append((host, port))
        if host != PUBLIC_ADDRESS:
            raise AssertionError(f"attempted connection to {host}:{port}")
        return await self.real.connect_tcp("127.0.0.1", self.loopback_port, timeout=timeout)

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise AssertionError("unix socket")

    async def sleep(self, seconds):
        await self.real.sleep(seconds)


async def stub_resolver(host: str, port: int) -> list[str]:
    return {PUBLIC_NAME: [PUBLIC_ADDRESS], METADATA_NAME: ["169.254.169.254"],
            "intranet.example": ["10.1.2.3"], "mixed.example": [PUBLIC_ADDRESS, "192.168.0.10"]}[host]


def fetch(backend, url: str, *, allow_private: bool = False):
    settings = HttpSettings(user_agent="OpenGovTechHub/test (+https://example.org)", retries=0, obey_robots=False)

    async def go():
        async with Fetcher(settings, resolver=stub_resolver, network_backend=backend) as fetcher:
            return await fetcher.fetch(url, allow_private=allow_private)

    return asyncio.run(go())


@pytest.mark.parametrize("address, public", [
    ("127.0.0.1", False), ("10.0.0.5", False), ("172.16.3.4", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("::1", False), ("fe80::1", False), ("fd00::1", False),
    ("::ffff:127.0.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
    ("93.184.216.34", True), ("2606:2800:220:1:248:1893:25c8:1946", True),
])
def test_address_classification(address, public):
    assert is_public_address(address) is public


def test_public_name_is_fetched_through_the_checked_address(loopback):
    serve_file(loopback, "/feed.rss", CORPUS / "feeds" / "wordpress_manton.rss")
    backend = LoopbackOnlyBackend(loopback.port)
    result = fetch(backend, f"http://{PUBLIC_NAME}:{loopback.port}/feed.rss")
    assert result.status == 200 and result.body.startswith(b"<?xml")
    assert backend.connects == [(PUBLIC_ADDRESS, loopback.port)]


@pytest.mark.parametrize("host", [METADATA_NAME, "intranet.example", "mixed.example", "169.254.169.254", "10.9.8.7"])
def test_names_resolving_to_private_addresses_are_refused_before_connecting(loopback, host):
    backend = LoopbackOnlyBackend(loopback.port)
    with pytest.raises(AddressRefused, match="non-public address"):
        fetch(backend, f"http://{host}/latest/meta-data/")
    assert backend.connects == []


def test_redirect_to_link_local_metadata_is_refused(loopback):
    loopback.expect_request("/feed").respond_with_data(
        "", status=302, headers={"Location": f"http://{METADATA_NAME}/latest/meta-data/iam"})
    backend = LoopbackOnlyBackend(loopback.port)
    with pytest.raises(AddressRefused, match="169.254.169.254"):
        fetch(backend, f"http://{PUBLIC_NAME}:{loopback.port}/feed")
    assert backend.connects == [(PUBLIC_ADDRESS, loopback.port)]


def test_allow_private_networks_lets_a_private_name_through(loopback):
    serve_file(loopback, "/feed.rss", CORPUS / "feeds" / "wordpress_manton.rss")

    async def to_loopback(host, port):
        return ["127.0.0.1"]

    settings = HttpSettings(user_agent="OpenGovTechHub/test", retries=0, obey_robots=False)

    async def go():
        async with Fetcher(settings, resolver=to_loopback) as fetcher:
            return await fetcher.fetch(f"http://intranet.example:{loopback.port}/feed.rss", allow_private=True)

    assert asyncio.run(go()).status == 200


async def readable_before_and_after_close(stream, closed: asyncio.Event) -> list[bool]:
    """The stream's idle check before the server closes (`closed` tells it to) and once the close
    has reached this side."""
    answers = [stream.get_extra_info("is_readable")]
    closed.set()
    for _ in range(100):
        await asyncio.sleep(0.01)
        if stream.get_extra_info("is_readable"):
            break
    answers.append(stream.get_extra_info("is_readable"))
    return answers


def test_connections_say_when_the_server_has_closed_them():
    # The pool drops a keep-alive connection whose socket has become readable (the server
    # closed it): the guard's streams must answer that check, idle and after the close.
    from pipelines.net.address_guard import GuardedNetworkBackend

    async def go() -> list[bool]:
        closed = asyncio.Event()

        async def serve(reader, writer):
            await closed.wait()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        stream = await GuardedNetworkBackend(allow_private=True).connect_tcp("127.0.0.1", port)
        assert stream.get_extra_info("socket") is not None
        answers = await readable_before_and_after_close(stream, closed)
        assert await stream.read(100) == b""
        await stream.aclose()
        server.close()
        return answers

    assert asyncio.run(go()) == [False, True]


def test_tls_connections_keep_the_socket_check_and_talk_through_it():
    # httpcore upgrades an https connection with start_tls(); the upgraded stream must still
    # answer the idle check and carry the request.
    import ssl

    import trustme

    from pipelines.net.address_guard import GuardedNetworkBackend

    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)

    async def go() -> tuple[bytes, list[bool]]:
        closed = asyncio.Event()

        async def serve(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            await writer.drain()
            await closed.wait()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_context)
        port = server.sockets[0].getsockname()[1]
        plain = await GuardedNetworkBackend(allow_private=True).connect_tcp("127.0.0.1", port)
        stream = await plain.start_tls(client_context, server_hostname="localhost", timeout=10)
        assert stream.get_extra_info("ssl_object").server_hostname == "localhost"
        await stream.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", timeout=10)
        reply = b""
        while not reply.endswith(b"hello"):
            reply += await stream.read(4096, timeout=10)
        answers = await readable_before_and_after_close(stream, closed)
        await stream.aclose()
        server.close()
        return reply, answers

    reply, answers = asyncio.run(go())
    assert reply.startswith(b"HTTP/1.1 200 OK") and reply.endswith(b"hello")
    # Before the close a TLS 1.3 session ticket may be waiting unread, so only the close is certain.
    assert answers[1] is True
