"""Bounded decoding of gzip/deflate bodies: a bomb is inflated a step at a time, never whole."""

from __future__ import annotations

import gzip
import zlib

import httpx
import pytest

from pipelines.net.inflate import BodyDecoder


def test_a_gzip_bomb_chunk_is_inflated_in_steps_no_larger_than_asked():
    bomb = gzip.compress(b"\0" * 50_000_000, compresslevel=9)  # ~50 KB
    decoder = BodyDecoder("gzip", step=1 << 20)
    sizes = []
    for piece in decoder.decode(bomb):
        sizes.append(len(piece))
        if sum(sizes) > 5_000_000:  # the caller's cap: stop asking for more
            break
    assert max(sizes) <= 1 << 20
    assert 5_000_000 < sum(sizes) <= 5_000_000 + (1 << 20)


def test_members_and_chunk_boundaries_do_not_change_the_decoded_bytes():
    body = b"<feed>" + b"".join(f"<entry>{n}</entry>".encode() for n in range(20_000)) + b"</feed>"
    encoded = gzip.compress(body[:1000]) + gzip.compress(body[1000:])
    decoder = BodyDecoder("gzip", step=4096)
    out = b"".join(piece for start in range(0, len(encoded), 777)
                   for piece in decoder.decode(encoded[start:start + 777]))
    assert out == body


def test_encodings_applied_in_turn_are_undone_last_first():
    body = b"<rss>" + b"x" * 10_000 + b"</rss>"
    assert b"".join(BodyDecoder("gzip, deflate").decode(zlib.compress(gzip.compress(body)))) == body
    assert b"".join(BodyDecoder("identity").decode(body)) == body
    assert b"".join(BodyDecoder(None).decode(body)) == body


def test_corrupt_data_and_unknown_encodings_raise_httpx_decoding_errors():
    with pytest.raises(httpx.DecodingError, match="invalid gzip data"):
        list(BodyDecoder("gzip").decode(b"not gzip at all"))
    with pytest.raises(httpx.DecodingError, match="unsupported Content-Encoding 'br'"):
        BodyDecoder("br")
