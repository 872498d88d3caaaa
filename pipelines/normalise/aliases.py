"""Curated names: one organisation or author under several spellings (aliases.yaml beside sources.yaml).

    organisations:
      Open Innovations: [ODI Leeds, odi-leeds, Open Innovations (formerly ODI Leeds)]
    authors:
      Giles Dring: [giles, "@gilesdring@mastodon.social"]

Matching ignores case, punctuation and spacing, so "ODI-Leeds" and "odi leeds" are one alias.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from pipelines.config import MAX_CONFIG_BYTES
from pipelines.errors import ConfigError
from pipelines.safe_yaml import document_too_large, load_yaml

ALIASES_FILE = "aliases.yaml"
_FOLD = re.compile(r"[\W_]+", re.UNICODE)


def fold(name: str) -> str:
    return _FOLD.sub(" ", name.lower()).strip()


class AliasesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisations: dict[str, list[str]] = {}
    authors: dict[str, list[str]] = {}


@dataclass
class Aliases:
    organisations: dict[str, str] = field(default_factory=dict)   # folded alias -> preferred name
    authors: dict[str, str] = field(default_factory=dict)
    names: dict[str, list[str]] = field(default_factory=dict)      # preferred organisation -> its aliases
    digest: str = "none"

    def organisation(self, name: str | None) -> str | None:
        if not name or not name.strip():
            return None
        name = " ".join(name.split())
        return self.organisations.get(fold(name), name)

    def author(self, name: str | None) -> str | None:
        if not name or not name.strip():
            return None
        name = " ".join(name.split())
        return self.authors.get(fold(name), name)


def aliases_path_for(sources_path: Path) -> Path:
    return Path(sources_path).parent / ALIASES_FILE


def load_aliases(path: Path | None) -> Aliases:
    """The curated aliases; no file means none. A bad file is a ConfigError naming the file and problem."""
    if path is None or not Path(path).exists():
        return Aliases()
    if Path(path).stat().st_size > MAX_CONFIG_BYTES:
        raise document_too_large(str(path), MAX_CONFIG_BYTES)
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = load_yaml(text, str(path), max_bytes=MAX_CONFIG_BYTES) or {}
        parsed = AliasesFile.model_validate(data)
    except ValidationError as exc:
        problems = [f"{path}: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(problems) from None
    aliases = Aliases(digest=hashlib.sha1(text.encode()).hexdigest()[:16])
    for table, target in ((parsed.organisations, aliases.organisations), (parsed.authors, aliases.authors)):
        for preferred, others in table.items():
            for alias in [preferred, *others]:
                key = fold(str(alias))
                if key in target and target[key] != preferred:
                    raise ConfigError([f"{path}: '{alias}' is an alias of both '{target[key]}' and '{preferred}'"])
                target[key] = preferred
    aliases.names = {preferred: list(others) for preferred, others in parsed.organisations.items()}
    return aliases
