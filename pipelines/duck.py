"""Opening DuckDB files the same way everywhere: no extension downloads, fts from its wheel."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.errors import HubError, WarehouseLockedError


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that never tries to download extensions (these machines can't)."""
    config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    try:
        return duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseLockedError(f"{path} is open for writing by another process: {exc}") from None
        raise HubError(f"cannot open {path}: {exc}") from None


def fts_extension_path() -> Path:
    """The fts extension shipped in the duckdb-extension-fts wheel (it cannot be downloaded here)."""
    import duckdb_extension_fts

    root = Path(duckdb_extension_fts.__file__).parent / "extensions"
    wanted = root / f"v{duckdb.__version__}" / "fts.duckdb_extension"
    if wanted.exists():
        return wanted
    found = sorted(root.glob("*/fts.duckdb_extension"))
    if not found:
        raise HubError(f"fts extension not found under {root}: reinstall duckdb-extension-fts=={duckdb.__version__}")
    return found[-1]


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"LOAD '{fts_extension_path()}'")
