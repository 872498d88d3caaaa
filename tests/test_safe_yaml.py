"""The bounded YAML loader: ordinary documents load as yaml.safe_load loads them; bombs, deep
nesting and anything else hostile are one line-numbered ConfigError, within bounded time and memory."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from datetime import timedelta

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.errors import ConfigError
from pipelines.safe_yaml import load_yaml
from tests.conftest import REPO
from tests.property_budget import examples

LIMIT = 1_000_000


def refusal(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_yaml(text, "doc.yaml", max_bytes=LIMIT)
    (problem,) = caught.value.problems
    return problem


def alias_bomb(levels: int, width: int) -> str:
    names = [f"n{i}" for i in range(levels)]
    lines = [f"{names[0]}: &{names[0]} [{','.join(['lol'] * width)}]"]
    lines += [f"{b}: &{b} [{','.join([f'*{a}'] * width)}]" for a, b in zip(names, names[1:])]
    return "\n".join(lines) + "\n"


@pytest.mark.slow  # a subprocess, which a crash could not take down
@pytest.mark.parametrize("opening", ["[", "{a: ", "- ", "? "])
def test_a_hundred_thousand_levels_of_nesting_are_a_clean_error_not_a_crash(opening):
    # In a child process: libyaml's own composer overflows the C stack here (SIGSEGV).
    code = ("import sys\nfrom pipelines.errors import ConfigError\nfrom pipelines.safe_yaml import load_yaml\n"
            f"try:\n    load_yaml({opening!r} * 100_000, 'deep.yaml', max_bytes=10_000_000)\n"
            "except ConfigError as exc:\n    sys.exit(str(exc))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 1, result.returncode   # a crash would be negative
    assert result.stderr.strip() == "deep.yaml:1: YAML nesting deeper than 64 levels"


def test_an_alias_bomb_is_refused_at_the_alias_that_passes_the_budget():
    assert refusal(alias_bomb(9, 9)) == "doc.yaml:5: YAML aliases expand to more than 10,000 nodes (at alias *n3)"


def test_nesting_brought_by_an_alias_counts():
    text = "a: &a " + "[" * 40 + "]" * 40 + "\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n"
    assert refusal(text) == "doc.yaml:2: YAML nesting deeper than 64 levels (through alias *a)"


def test_an_alias_to_the_collection_holding_it_is_refused():
    assert refusal("a: &a [1, *a]\n") == "doc.yaml:1: YAML alias *a refers to a collection that contains it"


def test_a_document_past_the_byte_limit_is_refused_on_its_first_line():
    with pytest.raises(ConfigError, match=r"^front\.md:7: YAML document larger than 100 bytes$"):
        load_yaml("a: é\n" * 30, "front.md", max_bytes=100, first_line=7)


def test_values_the_safe_constructor_cannot_make_are_line_numbered_errors():
    assert refusal("a: 1\nwhen: 2001-13-01\n") == "doc.yaml:2: YAML syntax error: cannot read value: month must be in 1..12"
    assert refusal("a: !!python/object:os.system x\n").startswith("doc.yaml:1: YAML syntax error: could not determine")


def test_ordinary_anchors_aliases_and_merge_keys_load_as_safe_load_loads_them():
    text = ("base: &base {kind: feed, tags: &tags [a, b]}\n"
            "one: {<<: *base, id: one}\nall: [*tags, *tags]\n" + alias_bomb(3, 9))
    assert load_yaml(text, "doc.yaml", max_bytes=LIMIT) == yaml.safe_load(text)


plain = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30),
                  st.dates(), st.datetimes())
data = st.recursive(plain, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                                       max_size=5), max_leaves=40)


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data, st.booleans())
def test_documents_yaml_writes_load_as_safe_load_loads_them(value, flow):
    text = yaml.safe_dump(value, allow_unicode=True, default_flow_style=flow)
    assert load_yaml(text, "doc.yaml", max_bytes=LIMIT) == yaml.safe_load(text)


# Hostile documents: anchors, aliases, merges, deep nesting of every kind, bombs, tags the safe
# constructor refuses or cannot make a value of, and all of them cut and spliced with junk.
NAMES = st.sampled_from(["a", "b", "c", "d"])
SCALARS = st.sampled_from(["x", "1", "-1.5", "~", "true", "2024-05-01", "2001-13-01", "'q'", '"\\u263a"', "<<",
                           "!!binary AAAA", "!!binary ~~~", "!!int x", "!!float y", "!!timestamp 2001-99-99",
                           "!!python/name:os.system", "!!set {a}", "!!omap [a: 1]", "1e9999", "9" * 5000,
                           "0o" + "7" * 40, ".nan", "!!str [x]", "? x"])
nodes = st.recursive(
    SCALARS | NAMES.map(lambda n: f"*{n}"),
    lambda inner: st.one_of(
        st.lists(inner, max_size=6).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(st.tuples(inner, inner), max_size=4).map(lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"),
        st.tuples(NAMES, inner).map(lambda named: f"&{named[0]} {named[1]}"),
        inner.map(lambda merged: "{<<: " + merged + ", k: v}"),
    ),
    max_leaves=60)
deep = st.builds(lambda depth, opening, closing: opening * depth + "x" + closing * depth,
                 st.integers(1, 3000), st.sampled_from(["[", "{a: ", "- ", "&a [", "!!seq ["]), st.sampled_from(["", "]", "}"]))
block = st.builds(lambda depth: "".join(" " * i + "- \n" for i in range(depth)) + " " * depth + "x\n", st.integers(1, 200))
bombs = st.builds(alias_bomb, st.integers(1, 12), st.integers(1, 12))
hostile = st.one_of(nodes, deep, block, bombs, st.text(max_size=200))
spliced = st.builds(lambda text, at, junk: text[:at % (len(text) + 1)] + junk + text[at % (len(text) + 1):],
                    hostile, st.integers(0, 10**6), st.sampled_from(["", "&a ", "*a", "[", "]", "{", ":", "\n- ", "\t",
                                                                     "---\n", "%YAML 1.1\n", "!!", "\x00", "\ufeff"]))


@settings(max_examples=examples(400), deadline=timedelta(seconds=10), suppress_health_check=[HealthCheck.too_slow])
@given(hostile | spliced)
def test_hostile_documents_load_or_are_one_line_numbered_problem_in_bounded_memory(text):
    tracemalloc.start()
    try:
        load_yaml(text, "doc.yaml", max_bytes=LIMIT)
    except ConfigError as exc:
        (problem,) = exc.problems
        assert problem.startswith("doc.yaml:") and problem.split(":")[1].isdigit() and "\n" not in problem
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 64 * 2**20
