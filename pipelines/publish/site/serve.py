"""`opengovtech serve`: the built site on 127.0.0.1, with the headers a real host should send.

Only the site's files are served: a directory without an index.html is a 404, not a listing, and
a path no file can have (a NUL byte, a lone surrogate) is a 400. Whatever one request does, the
server answers the next."""

from __future__ import annotations

import os
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pipelines.publish.site.build import CONTENT_SECURITY_POLICY

EXTRA_TYPES = {
    ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
    ".wasm": "application/wasm",  # WebAssembly.instantiateStreaming insists on it
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
}


class SiteRequestHandler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **EXTRA_TYPES}

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY + "; frame-ancestors 'none'")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "strict-origin-when-cross-origin")
        super().end_headers()

    def send_head(self):
        path = self.translate_path(self.path)
        try:
            if os.path.isdir(path) and not os.path.isfile(os.path.join(path, "index.html")):
                self.send_error(404)
                return None
            return super().send_head()
        except ValueError:   # a NUL byte or a lone surrogate in the path: no file is named so
            self.send_error(400, "Bad request path")
            return None

    def list_directory(self, path):
        self.send_error(404)
        return None

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        not_found = Path(self.directory) / "404.html"
        if code == 404 and not_found.exists():
            body = not_found.read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        super().send_error(code, message, explain)

    def log_message(self, format: str, *args) -> None:
        if not getattr(self.server, "quiet", False):
            super().log_message(format, *args)


class SiteHTTPServer(ThreadingHTTPServer):
    quiet = False

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up mid-answer, or anything else one request raises, is one line of
        # the log, not a traceback; the server goes on.
        if not self.quiet:
            sys.stderr.write(f"{client_address[0]} - request failed: {sys.exc_info()[1]!r}\n")


class SiteServer:
    """The site served from a background thread (tests, the demo) or the foreground (`serve_forever`)."""

    def __init__(self, site_dir: Path, host: str = "127.0.0.1", port: int = 8000, quiet: bool = False):
        self.httpd = SiteHTTPServer((host, port), partial(SiteRequestHandler, directory=str(site_dir)))
        self.httpd.quiet = quiet
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> "SiteServer":
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="hub-site", daemon=True)
        self.thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
