"""Property-based tests: any malformed sources.yaml gives the clear, line-numbered error, never a traceback."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.config import SourceRegistry, parse_registry
from pipelines.errors import ConfigError
from tests.property_budget import examples

PATH = Path("sources.yaml")
PROBLEM = re.compile(r"""^sources\.yaml:\d+(:| (defaults|schedule|source ('[^']*'|"[^"]*"|\#\d+)):) \S""")

VALID = """defaults:
  tags: [opengovtech]
  timeout_s: 20
schedule:
  cron: "0 6 * * *"
  timezone: Europe/London
sources:
  - id: essex-insight-blog
    kind: feed
    url: https://insight.blog.essex.gov.uk/feed/
    org: Essex County Council
    tagged_only: false
  - id: open-innovations-blog
    kind: feed
    url: https://open-innovations.org/blog/
"""

KEYS = ["id", "kind", "url", "org", "tags", "tagged_only", "tagged", "allow_private_networks", "enabled",
        "timeout_s", "cron", "timezone", "sources", "defaults", "schedule", "Id", "", "url "]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=20), st.sampled_from(["feed", "rss", "https://ok.example/feed", "notaurl",
                                                           "Bad_Id", "a-b", "Europe/London", "* * *"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) |
                      st.dictionaries(st.sampled_from(KEYS), inner, max_size=5), max_leaves=12)
documents = st.dictionaries(st.sampled_from(["defaults", "schedule", "sources", "extra"]), values, max_size=4) | values


def check(text: str) -> None:
    try:
        registry = parse_registry(text, PATH)
    except ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert PROBLEM.match(problem), problem
        return
    assert isinstance(registry, SourceRegistry)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_random_documents_are_valid_or_clearly_rejected(document):
    check(yaml.safe_dump(document, allow_unicode=True))


@settings(max_examples=examples(300), deadline=None)
@given(st.integers(0, len(VALID) - 1), st.integers(0, 8), st.sampled_from(["", ":", "[", "{", "- ", "\t", "'", "&a", "*b", "\n  x: ", "#"]))
def test_edited_valid_documents_are_valid_or_clearly_rejected(position, cut, insert):
    check(VALID[:position] + insert + VALID[position + cut:])


@settings(max_examples=examples(200), deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_is_valid_or_clearly_rejected(text):
    check(text)
