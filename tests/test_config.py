"""sources.yaml validation: every problem is a line-numbered message naming the source."""

from __future__ import annotations

import pytest

from pipelines import config
from pipelines.config import load_registry
from pipelines.errors import ConfigError
from tests.conftest import REPO, run_cli

VALID_HEAD = """defaults:
  tags: [opengovtech]
sources:
"""


def problems_for(tmp_path, text: str) -> list[str]:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_registry(path)
    return [p.replace(str(path), "sources.yaml") for p in caught.value.problems]


def test_the_default_sources_file_is_valid():
    registry = load_registry(REPO / "sources.yaml")
    assert len(registry.sources) >= 8
    assert {s.kind for s in registry.sources} == {"feed", "blog", "github", "markdown", "mastodon", "bluesky", "devto"}
    assert all(s.org for s in registry.sources if s.kind in ("feed", "blog"))  # every blog names its organisation
    assert {s.target for s in registry.sources if s.kind == "github"} == {
        "topic opengovtech", "org odileeds", "repositories linked from harvested stories"}  # the implicit one
    # opengovtech.org itself, the hub this project automates, is a default source
    assert [s.repo for s in registry.sources if s.kind == "markdown"] == ["odileeds/OpenGovTech"]


def test_unknown_key_names_line_and_source(tmp_path):
    problems = problems_for(tmp_path, VALID_HEAD + """  - id: essex-blog
    kind: feed
    url: https://insight.blog.essex.gov.uk/feed/
    tagged: true
""")
    assert problems == ["sources.yaml:7 source 'essex-blog': unknown key 'tagged' (did you mean 'tagged_only'?)"]


def test_duplicate_ids_point_at_the_first(tmp_path):
    problems = problems_for(tmp_path, VALID_HEAD + """  - id: a
    kind: feed
    url: https://a.example/feed
  - id: a
    kind: feed
    url: https://b.example/feed
""")
    assert problems == ["sources.yaml:7 source 'a': duplicate id (first defined on line 4)"]


def test_unknown_kind_lists_the_allowed_ones(tmp_path):
    problems = problems_for(tmp_path, VALID_HEAD + "  - id: x\n    kind: rss\n    url: https://x.example/\n")
    assert problems == ["sources.yaml:5 source 'x': unknown kind 'rss' (allowed: blog, bluesky, devto, discourse, "
                        "feed, github, markdown, mastodon, page)"]


@pytest.mark.parametrize("url", ["notaurl", "ftp://example.org/feed", "https://", "javascript:alert(1)"])
def test_bad_urls_are_errors(tmp_path, url):
    problems = problems_for(tmp_path, VALID_HEAD + f"  - id: x\n    kind: feed\n    url: '{url}'\n")
    assert len(problems) == 1
    assert problems[0].startswith("sources.yaml:6 source 'x': 'url': invalid URL")


def test_missing_url_and_bad_id_are_reported_together(tmp_path):
    problems = problems_for(tmp_path, VALID_HEAD + """  - id: Bad_Id
    kind: feed
  - kind: feed
    url: https://ok.example/
""")
    assert "sources.yaml:4 source 'Bad_Id': id 'Bad_Id' must be a slug: lower-case letters, digits and hyphens" in problems
    assert "sources.yaml:4 source 'Bad_Id': missing required key 'url'" in problems
    assert "sources.yaml:6 source #2: missing required key 'id'" in problems


def test_yaml_syntax_error_has_a_line(tmp_path):
    problems = problems_for(tmp_path, VALID_HEAD + "  - id: x\n    kind: [feed\n")
    assert len(problems) == 1 and problems[0].startswith("sources.yaml:") and "YAML syntax error" in problems[0]


def test_bad_defaults_and_schedule(tmp_path):
    problems = problems_for(tmp_path, """defaults:
  timeout_s: -1
schedule:
  timezone: Mars/Olympus
sources: []
""")
    assert "sources.yaml:2 defaults: 'timeout_s': Input should be greater than 0" in problems
    assert any(p.startswith("sources.yaml:4 schedule:") and "unknown timezone" in p for p in problems)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_registry(tmp_path / "nope.yaml")


@pytest.mark.slow  # the CLI as a subprocess; in process in test_fast_cli
def test_validate_command_exit_codes(tmp_path):
    good = run_cli("sources", "validate", str(REPO / "sources.yaml"))
    assert good.returncode == 0, good.stderr
    assert "sources OK" in good.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(VALID_HEAD + "  - id: x\n    kind: feed\n    url: https://x.example/\n    tagged: true\n")
    result = run_cli("sources", "validate", str(bad))
    assert result.returncode == 2
    assert f"{bad}:7 source 'x': unknown key 'tagged'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow  # the CLI as a subprocess; in process in test_fast_cli
def test_run_with_invalid_configuration_exits_2_before_any_work(tmp_path):
    bad = tmp_path / "sources.yaml"
    bad.write_text(VALID_HEAD + "  - id: x\n    kind: rss\n")
    result = run_cli("run", "--sources", str(bad), "--warehouse", str(tmp_path / "wh" / "hub.duckdb"))
    assert result.returncode == 2
    assert "unknown kind 'rss'" in result.stderr
    assert not (tmp_path / "wh" / "hub.duckdb").exists()


@pytest.mark.parametrize("zone", ["Europe", "Europe/", "../etc/passwd"])
def test_a_timezone_that_names_a_directory_or_a_path_is_a_clear_error(tmp_path, zone):
    # Found by the property tests: ZoneInfo("Europe") raised IsADirectoryError, a traceback.
    problems = problems_for(tmp_path, f"schedule:\n  timezone: {zone}\nsources: []\n")
    assert len(problems) == 1 and problems[0].startswith("sources.yaml:2 schedule:")
    assert f"unknown timezone '{zone}'" in problems[0]


# --- hostile YAML: refused with a line number before it is expanded or composed ---------------

def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """'Billion laughs' in YAML: each anchor a list of `width` aliases to the one before."""
    names = "abcdefghijklmnopqrstuvwxyz"[:levels]
    lines = [f"  a: &a [{','.join(['lol'] * width)}]"]
    lines += [f"  {name}: &{name} [{','.join([f'*{before}'] * width)}]" for before, name in zip(names, names[1:])]
    return "defaults:\n" + "\n".join(lines) + "\nsources: []\n"


HOSTILE_YAML = {
    "alias bomb": (alias_bomb(), 6, "YAML aliases expand to more than 10,000 nodes"),
    "1,000 levels": ("sources:\n  - " + "[" * 1000 + "]" * 1000 + "\n", 2, "YAML nesting deeper than 64 levels"),
    "100,000 open brackets": ("[" * 100_000, 1, "YAML nesting deeper than 64 levels"),
}


def test_an_alias_bomb_is_refused_at_its_line_before_it_expands(tmp_path):
    text, line, problem = HOSTILE_YAML["alias bomb"]
    assert len(text) < 400   # stands for 9^9 nodes; refused once its aliases pass 10,000
    assert problems_for(tmp_path, text) == [f"sources.yaml:{line}: {problem} (at alias *d)"]


def test_nesting_a_thousand_levels_deep_is_one_short_line_numbered_problem(tmp_path):
    text, line, problem = HOSTILE_YAML["1,000 levels"]
    assert problems_for(tmp_path, text) == [f"sources.yaml:{line}: {problem}"]


@pytest.mark.slow  # the CLI as a subprocess, which a crash could not take down
@pytest.mark.parametrize("case", list(HOSTILE_YAML))
def test_validate_and_run_refuse_hostile_yaml_with_file_and_line_not_a_crash(tmp_path, case):
    text, line, problem = HOSTILE_YAML[case]
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    for command in (["sources", "validate", str(path)],
                    ["run", "--sources", str(path), "--warehouse", str(tmp_path / "wh" / "hub.duckdb")]):
        result = run_cli(*command)
        assert result.returncode == 2, (command, result.returncode)   # a crash would be negative (SIGSEGV)
        assert f"{path}:{line}: {problem}" in result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr) < 2_000


def test_anchors_of_an_ordinary_registry_still_load(tmp_path):
    sources = "".join(f"  - id: feed-{i}\n    kind: feed\n    url: https://council-{i}.example/feed\n    tags: *shared\n"
                      for i in range(2_000))
    registry = load_registry(_write(tmp_path, "defaults:\n  tags: &shared [opengovtech, civic tech, open data, "
                                    "smart cities, digital services]\nsources:\n" + sources))
    assert len(registry.sources) == 2_000
    assert all(len(s.tags) == 5 for s in registry.sources)


def test_a_sources_file_past_the_size_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "MAX_CONFIG_BYTES", 1_000)
    problems = problems_for(tmp_path, VALID_HEAD + "  - id: x\n    kind: feed\n    url: https://x.example/feed\n" * 40)
    assert problems == ["sources.yaml:1: YAML document larger than 1,000 bytes"]


def _write(tmp_path, text: str):
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return path
