"""Data-quality checks on hub_items: Dagster asset checks, summarised at the end of `opengovtech run`.

Each check is a query over the warehouse; a failed ERROR check means readers of hub_items
would see broken data, a failed WARN check means something upstream needs attention.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FAILED_SOURCES_WARN_SHARE = 0.25   # more failed sources than this in the last run is worth a look


@dataclass
class QualityResult:
    name: str
    passed: bool
    severity: str          # ERROR | WARN
    summary: str
    examples: list[str] = field(default_factory=list)


def items_have_title_and_url(con) -> QualityResult:
    """Every item has a title and a URL."""
    rows = con.execute("""SELECT id, coalesce(title, '(no title)') FROM hub_items
                          WHERE title IS NULL OR trim(title) = '' OR url IS NULL OR trim(url) = ''""").fetchall()
    total = con.execute("SELECT count(*) FROM hub_items").fetchone()[0]
    return QualityResult("items_have_title_and_url", not rows, "ERROR",
                         f"{len(rows)} of {total} items lack a title or URL" if rows else f"all {total} items have both",
                         [f"{i}: {t}" for i, t in rows[:5]])


def canonical_urls_are_unique(con) -> QualityResult:
    """No two items share a canonical URL."""
    rows = con.execute("""SELECT url, count(*) FROM hub_items WHERE url IS NOT NULL
                          GROUP BY url HAVING count(*) > 1 ORDER BY 2 DESC""").fetchall()
    return QualityResult("canonical_urls_are_unique", not rows, "ERROR",
                         f"{len(rows)} URLs belong to more than one item" if rows else "every URL is one item",
                         [f"{u} ({n} items)" for u, n in rows[:5]])


def no_dates_in_the_future(con) -> QualityResult:
    """No publication date is more than a day in the future."""
    rows = con.execute("""SELECT id, published_at FROM hub_items
                          WHERE published_at > now() + INTERVAL 1 DAY ORDER BY published_at DESC""").fetchall()
    return QualityResult("no_dates_in_the_future", not rows, "ERROR",
                         f"{len(rows)} items are dated more than a day ahead" if rows else "no item is dated ahead",
                         [f"{i}: {d}" for i, d in rows[:5]])


def failed_sources_share(con, threshold: float = FAILED_SOURCES_WARN_SHARE) -> QualityResult:
    """The share of sources that failed in their last run is under the threshold (warning)."""
    failed, total = con.execute("""
        SELECT count(*) FILTER (WHERE h.status IN ('failed', 'blocked')), count(*)
        FROM source_health h JOIN sources s USING (source_id) WHERE s.active""").fetchone()
    share = failed / total if total else 0.0
    names = [r[0] for r in con.execute("""SELECT h.source_id FROM source_health h JOIN sources s USING (source_id)
                                          WHERE s.active AND h.status IN ('failed', 'blocked')
                                          ORDER BY h.source_id LIMIT 5""").fetchall()]
    return QualityResult("failed_sources_share", share <= threshold, "WARN",
                         f"{failed} of {total} sources failed ({share:.0%}; warning above {threshold:.0%})", names)


HUB_ITEM_CHECKS = (items_have_title_and_url, canonical_urls_are_unique, no_dates_in_the_future, failed_sources_share)


def run_quality_checks(con) -> list[QualityResult]:
    return [check(con) for check in HUB_ITEM_CHECKS]
