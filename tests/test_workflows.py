"""The GitHub workflows and the issue form, as committed here and as `opengovtech init` writes them:
linted by actionlint, zizmor (offline) and GitHub's schemas, thin (each `run:` one documented
command), pinned, and generated from sources.yaml's schedule."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines.config import load_registry
from pipelines.app.starter import ACTIONS, CHECKOUT_INSTALL, REQUIREMENTS_INSTALL
from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.slow  # linters and the CLI as subprocesses (init in process: test_fast_cli)

BIN = Path(sys.executable).parent
WORKFLOWS = (".github/workflows/hub.yml", ".github/workflows/suggest-a-source.yml")
ISSUE_FORM = ".github/ISSUE_TEMPLATE/suggest-a-source.yml"


def tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is not installed beside {sys.executable}: pip install -e '.[test]'"
    return str(path)


@pytest.fixture(scope="module")
def new_hub(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("new-hub")
    result = run_cli("init", str(directory))
    assert result.returncode == 0, result.stdout + result.stderr
    return directory


@pytest.fixture(params=["this repository", "a new hub"])
def hub_repository(request, new_hub) -> Path:
    return REPO if request.param == "this repository" else new_hub


def lint(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_workflows_and_issue_form_pass_actionlint_zizmor_and_githubs_schemas(hub_repository):
    workflows = [str(hub_repository / w) for w in WORKFLOWS]
    checks = [
        [tool("actionlint"), "-no-color", *workflows],
        [tool("zizmor"), "--offline", "--no-progress", *workflows],
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *workflows],
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-issue-forms", str(hub_repository / ISSUE_FORM)],
    ]
    for args in checks:
        result = lint(args, hub_repository)
        assert result.returncode == 0, f"{Path(args[0]).name}:\n{result.stdout}\n{result.stderr}"


def test_this_repositorys_workflows_are_what_init_writes_from_its_sources_yaml():
    result = run_cli("init", "--check", str(REPO))
    assert result.returncode == 0, result.stdout + result.stderr
    schedule = load_registry(REPO / "sources.yaml").schedule
    trigger = yaml.safe_load((REPO / WORKFLOWS[0]).read_text(encoding="utf-8"))[True]["schedule"]
    assert trigger == [{"cron": schedule.cron, "timezone": schedule.timezone}]


def test_init_check_notices_a_workflow_out_of_step_with_the_schedule(tmp_path):
    assert run_cli("init", str(tmp_path)).returncode == 0
    sources = tmp_path / "sources.yaml"
    sources.write_text(sources.read_text(encoding="utf-8").replace('cron: "0 6 * * *"', 'cron: "30 5 * * 1-5"'),
                       encoding="utf-8")
    stale = run_cli("init", "--check", str(tmp_path))
    assert stale.returncode == 1 and ".github/workflows/hub.yml" in stale.stdout
    assert run_cli("init", "--force", str(tmp_path)).returncode == 0
    assert run_cli("init", "--check", str(tmp_path)).returncode == 0
    assert '- cron: "30 5 * * 1-5"' in (tmp_path / WORKFLOWS[0]).read_text(encoding="utf-8")
    assert 'cron: "30 5 * * 1-5"' in sources.read_text(encoding="utf-8")   # the hub's own file is never rewritten


def documented_commands() -> set[str]:
    """`opengovtech SUBCOMMAND` as the README's "Using it" section lists them."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Using it", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"\.venv/bin/opengovtech ([a-z-]+)", section))


def test_every_run_step_is_the_install_or_one_documented_opengovtech_command(hub_repository):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert CHECKOUT_INSTALL in readme   # the Quick start's own command
    install = CHECKOUT_INSTALL if hub_repository == REPO else REQUIREMENTS_INSTALL
    documented = documented_commands()
    for workflow in WORKFLOWS:
        jobs = yaml.safe_load((hub_repository / workflow).read_text(encoding="utf-8"))["jobs"]
        for job in jobs.values():
            for step in job["steps"]:
                if "run" not in step:
                    continue
                command = step["run"].strip()
                assert "\n" not in command and "${{" not in command, f"{workflow}: logic in YAML: {command!r}"
                if command == install:
                    continue
                words = command.split()
                assert words[0] == ".venv/bin/opengovtech" and words[1] in documented, (workflow, command)


def test_every_action_is_pinned_to_a_release_commit_named_in_a_comment(hub_repository):
    pinned = {str(action) for action in ACTIONS.values()}
    for workflow in WORKFLOWS:
        for line in (hub_repository / workflow).read_text(encoding="utf-8").splitlines():
            if "uses:" in line:
                uses = line.split("uses:", 1)[1].strip()
                assert re.fullmatch(r"[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", uses), line
                assert uses in pinned, line
