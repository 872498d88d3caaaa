"""Where the warehouse file is: standard library only, so `opengovtech search` finds the search
index beside it without loading duckdb and pyarrow."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_WAREHOUSE_PATH = Path("warehouse/hub.duckdb")


def resolve_warehouse_path(path: str | os.PathLike | None = None) -> Path:
    if path:
        return Path(path)
    return Path(os.environ.get("OPENGOVTECH_WAREHOUSE") or DEFAULT_WAREHOUSE_PATH)
