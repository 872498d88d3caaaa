"""Indexing the built site with Pagefind (the binary from the `pagefind[bin]` PyPI package)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pipelines.errors import HubError

PAGEFIND_TIMEOUT_S = 600


class SiteIndexError(HubError):
    pass


def index_site(site_dir: Path) -> str:
    """Run Pagefind over `site_dir`; it writes `site_dir/pagefind/`. Returns Pagefind's summary line."""
    try:
        done = subprocess.run([sys.executable, "-m", "pagefind", "--site", str(site_dir), "--output-subdir", "pagefind"],
                              capture_output=True, text=True, timeout=PAGEFIND_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise SiteIndexError(f"pagefind did not finish indexing {site_dir} within {PAGEFIND_TIMEOUT_S} s") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise SiteIndexError(f"pagefind failed on {site_dir} (exit {done.returncode}): " + " / ".join(detail)
                             + "\n(is the `pagefind[bin]` package installed?)")
    # e.g. "Indexed 1 language; Indexed 10 pages; Indexed 277 words; Indexed 4 filters; Indexed 0 sorts"
    return "; ".join(line.strip() for line in done.stdout.splitlines() if line.strip().startswith("Indexed"))
