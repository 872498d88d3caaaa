"""Decoding gzip/deflate response bodies in bounded steps.

httpx inflates each network chunk whole before the caller sees it, and a 64 KB chunk of a
gzip bomb inflates to about 64 MB: the body cap would stop the download only after that
much memory was taken, once per request in flight. Here every step inflates at most
`step` bytes, so the cap is checked before more is made.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import httpx

STEP = 1 << 20
SUPPORTED = ("gzip", "x-gzip", "deflate")


class _Inflater:
    def __init__(self, encoding: str, step: int):
        self.gzip = encoding in ("gzip", "x-gzip")
        self.step = step
        self.first = True
        self._obj = self._new()

    def _new(self):
        return zlib.decompressobj(zlib.MAX_WBITS | 16 if self.gzip else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            try:
                out = self._obj.decompress(data, self.step)
            except zlib.error as exc:
                if not self.gzip and self.first:  # "deflate" sent as raw deflate, without the zlib header
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    self.first = False
                    continue
                raise httpx.DecodingError(f"invalid {'gzip' if self.gzip else 'deflate'} data: {exc}") from None
            self.first = False
            if out:
                yield out
            if self._obj.eof:
                data = self._obj.unused_data
                if not (data and self.gzip):
                    return  # anything after the end of a deflate stream is ignored, as httpx does
                self._obj = self._new()  # the next member of a multi-member gzip file
            else:
                data = self._obj.unconsumed_tail


class BodyDecoder:
    """Undoes a Content-Encoding (`gzip`, `deflate`, or several applied in turn) chunk by chunk."""

    def __init__(self, content_encoding: str | None, step: int = STEP):
        codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
        codings = [c for c in codings if c and c != "identity"]
        unsupported = [c for c in codings if c not in SUPPORTED]
        if unsupported:
            raise httpx.DecodingError(f"unsupported Content-Encoding {', '.join(unsupported)!r} (asked for gzip, "
                                      "deflate)")
        self._inflaters = [_Inflater(c, step) for c in reversed(codings)]  # the last applied is undone first

    def decode(self, data: bytes) -> Iterator[bytes]:
        yield from self._through(data, 0)

    def _through(self, data: bytes, depth: int) -> Iterator[bytes]:
        if depth == len(self._inflaters):
            if data:
                yield data
            return
        for piece in self._inflaters[depth].feed(data):
            yield from self._through(piece, depth + 1)
