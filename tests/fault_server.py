"""A loopback HTTP server whose routes misbehave the way real feed servers do.

Used by tests/test_faults.py and bench/faults.py. Healthy routes serve copies of real corpus
feeds; every other route is one kind of fault. The server records every path it was asked
for, so a test can prove a request was never made.
"""

from __future__ import annotations

import functools
import gzip
import html
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# route -> what a harvest must report for it: "ok" (it recovers) or the failing status
FAULTS: dict[str, str] = {
    "slow": "ok",                 # answers after 1.5 s, within the timeout
    "hang-after-headers": "failed",
    "hang-mid-body": "failed",
    "429-then-ok": "ok",          # 429 with Retry-After: 1, then the feed
    "503-retry-after-long": "deferred",
    "fail-twice-then-ok": "ok",   # 500, 500, then the feed (needs retries >= 2)
    "redirect-loop": "failed",
    "redirect-to-private": "blocked",
    "huge-body": "failed",        # 60 MB, no Content-Length
    "gzip-bomb": "failed",        # 10 MB of gzip that inflates to 10 GB
    "truncated": "failed",        # Content-Length promises more than is sent
    "wrong-charset": "ok",        # windows-1251 bytes declared as UTF-8: read, with a warning
    "html-not-feed": "failed",
    "billion-laughs": "ok",       # parsed without expanding the entities
    "external-entity": "ok",      # parsed without reading the local file
    "empty-200": "failed",
}
# Hostile content: read, held to the limits of pipelines/parse/entry_limits.py, with a warning.
HOSTILE_CONTENT = (
    "huge-title",          # one title of 9 MB
    "many-entries",        # 180,000 tiny entries in under 10 MB
    "many-tags",           # a JSON Feed entry with 500,000 tags
    "many-categories",     # an RSS entry with 40,000 categories
    "deep-nesting",        # 100,000 nested <div>s in a description
    "long-category",       # a 300-character category and author
    "control-characters",  # \x01, U+FFFE and a surrogate reference in a title
    "object-content",      # a JSON Feed content_html that is an object
)
FAULTS.update(dict.fromkeys(HOSTILE_CONTENT, "ok"))
CANARY = "CANARY-LOCAL-FILE-5e1f"
HANG_S = 60


def _rss(items: str) -> bytes:
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


@functools.cache
def hostile_body(route: str) -> tuple[bytes, str]:
    """The body and content type of a hostile-content route, made once per process."""
    if route == "huge-title":
        return _rss("<item><title>" + "Civic " * 1_500_000 + "</title><link>http://council.example/big</link></item>"), \
            "application/rss+xml"
    if route == "many-entries":
        return _rss("".join(f"<item><link>http://c.example/{i}</link></item>" for i in range(180_000))), \
            "application/rss+xml"
    if route == "many-tags":
        return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [
            {"id": "1", "url": "http://council.example/tags", "title": "Tagged", "content_text": "x",
             "tags": [f"tag{i}" for i in range(500_000)]}]}).encode(), "application/feed+json"
    if route == "many-categories":
        categories = "".join(f"<category>topic {i}</category>" for i in range(40_000))
        return _rss(f"<item><title>Topics</title><link>http://council.example/t</link>{categories}</item>"), \
            "application/rss+xml"
    if route == "deep-nesting":
        nested = html.escape("<div>" * 100_000 + "deep" + "</div>" * 100_000)
        return _rss(f"<item><title>Deep</title><link>http://council.example/d</link>"
                    f"<description>{nested}</description></item>"), "application/rss+xml"
    if route == "long-category":
        long = "Open data " * 30
        return _rss(f"<item><title>Long</title><link>http://council.example/l</link><category>{long}</category>"
                    f"<author>{long}</author></item>"), "application/rss+xml"
    if route == "control-characters":
        return _rss("<item><title>Bins \x01 and \ufffe &#55296; data</title>"
                    "<link>http://council.example/c</link></item>"), "application/rss+xml"
    if route == "object-content":
        return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [
            {"id": "1", "url": "http://council.example/o", "title": "Object", "content_html": {"a": 1}},
            {"id": "2", "url": "http://council.example/p", "title": "Plain", "content_text": "fine"}]}).encode(), \
            "application/feed+json"
    raise KeyError(route)


def _gzip_bomb() -> bytes:
    member = gzip.compress(b"\0" * 50_000_000, compresslevel=9)  # ~50 KB each
    return member * max(1, 10_000_000 // len(member))


@dataclass
class FaultServer:
    server: ThreadingHTTPServer
    thread: threading.Thread
    feeds: list[bytes]
    canary_file: Path

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    @property
    def requested(self) -> Counter:
        return self.server.requested  # type: ignore[attr-defined]

    def stop(self) -> None:
        self.server.stopping.set()  # type: ignore[attr-defined]
        self.server.shutdown()
        self.server.server_close()


def start_fault_server(feeds: list[bytes], canary_file: Path, host: str = "127.0.0.1") -> FaultServer:
    canary_file.write_text(CANARY)
    bomb = _gzip_bomb()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass

        def send(self, status: int, body: bytes = b"", headers: dict | None = None, length: int | None = None):
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)

        def hang(self):
            self.server.stopping.wait(HANG_S)

        def do_GET(self):  # noqa: C901 - one branch per fault is the point
            path = self.path.split("?", 1)[0]
            self.server.requested[path] += 1
            count = self.server.requested[path]
            parts = path.strip("/").split("/")
            route, index = parts[0], int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            feed = feeds[index % len(feeds)]
            xml = {"Content-Type": "application/xml"}
            if route == "ok":
                self.send(200, feed, xml)
            elif route == "slow":
                time.sleep(1.5)
                self.send(200, feed, xml)
            elif route == "hang-after-headers":
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(feed)))
                self.end_headers()
                self.wfile.flush()
                self.hang()
            elif route == "hang-mid-body":
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(feed)))
                self.end_headers()
                self.wfile.write(feed[: len(feed) // 2])
                self.wfile.flush()
                self.hang()
            elif route == "429-then-ok":
                if count == 1:
                    self.send(429, b"slow down", {"Retry-After": "1"})
                else:
                    self.send(200, feed, xml)
            elif route == "503-retry-after-long":
                self.send(503, b"maintenance", {"Retry-After": "86400"})
            elif route == "fail-twice-then-ok":
                if count <= 2:
                    self.send(500, b"oops")
                else:
                    self.send(200, feed, xml)
            elif route == "redirect-loop":
                self.send(302, headers={"Location": path})
            elif route == "redirect-to-private":
                self.send(302, headers={"Location": f"http://127.0.0.2:{self.server.server_address[1]}/secret"})
            elif route == "huge-body":
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"<!-- padding -->" * 65536
                try:
                    for _ in range(60_000_000 // len(chunk)):
                        self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True
            elif route == "gzip-bomb":
                try:
                    self.send(200, bomb, {"Content-Type": "application/xml", "Content-Encoding": "gzip"})
                except (BrokenPipeError, ConnectionResetError):
                    pass
            elif route == "truncated":
                self.send(200, feed[: len(feed) // 3], xml, length=len(feed))
                self.close_connection = True
            elif route == "wrong-charset":
                body = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Новости</title>'
                        '<item><title>Открытые данные</title><link>http://council.example/ru/1</link></item>'
                        '</channel></rss>').encode("windows-1251")
                self.send(200, body, {"Content-Type": "application/xml; charset=utf-8"})
            elif route == "html-not-feed":
                self.send(200, b"<!DOCTYPE html><html><head><title>Home</title></head><body>Hi</body></html>",
                          {"Content-Type": "text/html"})
            elif route == "billion-laughs":
                entities = "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10 if i > 1 else "lol" * 10}">'
                                   for i in range(1, 10))
                body = (f'<?xml version="1.0"?><!DOCTYPE rss [{entities}]><rss version="2.0"><channel>'
                        f'<title>t</title><item><title>&l9;</title><link>http://council.example/lol</link>'
                        f'</item></channel></rss>').encode()
                self.send(200, body, xml)
            elif route == "external-entity":
                body = (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file://{canary_file}">]>'
                        f'<rss version="2.0"><channel><title>t</title><item><title>Leak &x;</title>'
                        f'<description>&x;</description><link>http://council.example/xxe</link>'
                        f'</item></channel></rss>').encode()
                self.send(200, body, xml)
            elif route == "empty-200":
                self.send(200, b"", xml)
            elif route in HOSTILE_CONTENT:
                body, content_type = hostile_body(route)
                self.send(200, body, {"Content-Type": content_type})
            else:
                self.send(404, b"not found")

    class QuietServer(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # clients hanging up on a bomb or a hang is the expected outcome here

    server = QuietServer((host, 0), Handler)
    server.daemon_threads = True
    server.requested = Counter()  # type: ignore[attr-defined]
    server.stopping = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return FaultServer(server, thread, feeds, canary_file)


def fault_sources(server: FaultServer, healthy: int, faulty: int) -> list[dict]:
    """`healthy` sources on /ok/<n> and `faulty` ones cycling through FAULTS."""
    sources = [{"id": f"healthy-{i:05d}", "kind": "feed", "url": server.url(f"/ok/{i}"), "tagged_only": False,
                "allow_private_networks": ["127.0.0.1/32"]} for i in range(healthy)]
    routes = list(FAULTS)
    for i in range(faulty):
        route = routes[i % len(routes)]
        sources.append({"id": f"fault-{i:05d}-{route}", "kind": "feed", "url": server.url(f"/{route}/{i}"),
                        "tagged_only": False, "allow_private_networks": ["127.0.0.1/32"]})
    return sources
