"""What a run did, for the people watching it: the sources worth a look and the data checks.

The CLI draws them as a table on the console; `opengovtech run --summary FILE` also writes them
as Markdown, which is what a GitHub Actions job summary (`$GITHUB_STEP_SUMMARY`) shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.errors import FAILED_STATUSES, SUCCEEDED_STATUSES

# Sources that failed or wait are always listed, sources with new or updated entries up to this
# many; the rest are counted: drawing every source cost a large hub seconds for rows nobody acts on.
LISTED_CHANGED_SOURCES = 50
SOURCE_COLUMNS = ("source", "status", "fetched", "new", "updated", "unchanged", "reason")
COUNT_COLUMNS = ("fetched", "new", "updated", "unchanged")


@dataclass
class SourceSelection:
    """A run's `source_runs` rows, split into those listed and those only counted."""

    rows: list[dict]
    attention: list[dict]   # failed, blocked, deferred or backing off
    changed: list[dict]     # succeeded with new or updated entries

    @property
    def listed(self) -> list[dict]:
        return self.attention + self.changed[:LISTED_CHANGED_SOURCES]

    def sentence(self, warehouse: str) -> str:
        """One line of totals, saying how many sources the table leaves out."""
        rows = self.rows
        failed = sum(r["status"] in FAILED_STATUSES for r in rows)
        waiting = sum(r["status"] == "backoff" for r in rows)
        not_listed = len(rows) - len(self.listed)
        unlisted = (f" {not_listed} ok sources not listed ({len(rows) - len(self.attention) - len(self.changed)} "
                    "with nothing new); `opengovtech sources status` shows every source." if not_listed else "")
        return (f"{len(rows)} sources: {len(rows) - failed - waiting} ok, {failed} failed, {waiting} backing off; "
                f"{sum(r['new'] for r in rows)} new, {sum(r['updated'] for r in rows)} updated entries."
                f"{unlisted} Warehouse: {warehouse}")


def select_sources(rows: list[dict]) -> SourceSelection:
    attention = [r for r in rows if r["status"] not in SUCCEEDED_STATUSES]
    changed = [r for r in rows if r["status"] in SUCCEEDED_STATUSES and (r["new"] or r["updated"])]
    return SourceSelection(rows=rows, attention=attention, changed=changed)


def code(text: object) -> str:
    """`text` as a Markdown code span fit for a table cell: no markup, link, image or @mention in
    it takes effect (a source's error can quote anything a server said), and a `|` stays in its cell."""
    flat = " ".join(str(text).split()).replace("|", "\\|")
    if not flat:
        return ""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", flat)), default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def markdown_summary(rows: list[dict], checks: list, run_id: str, warehouse: str) -> str:
    """The run's sources table and data checks as GitHub-flavoured Markdown."""
    selection = select_sources(rows)
    lines = [f"## Hub run {code(run_id)}", "", selection.sentence(code(warehouse)), ""]
    if selection.listed:
        lines.append("| " + " | ".join(SOURCE_COLUMNS) + " |")
        lines.append("|" + "|".join("--:" if c in COUNT_COLUMNS else "---" for c in SOURCE_COLUMNS) + "|")
        for r in selection.listed:
            cells = [code(r["source_id"]), r["status"], *(str(r[c]) for c in COUNT_COLUMNS), code(r["error"] or "")]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if checks:
        failed = [c for c in checks if not c.passed]
        lines += [f"### Data checks: {len(checks) - len(failed)} of {len(checks)} passed", "",
                  "| check | result | summary |", "|---|---|---|"]
        for check in checks:
            result = "ok" if check.passed else ("warning" if check.severity == "WARN" else "**failed**")
            lines.append(f"| {code(check.name)} | {result} | {code(check.summary)} |")
        lines.append("")
    return "\n".join(lines)


def failed_error_checks(checks: list) -> list:
    """The data checks whose failure means readers would see broken data (severity ERROR)."""
    return [c for c in checks if not c.passed and c.severity != "WARN"]
