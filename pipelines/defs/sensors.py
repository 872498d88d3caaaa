"""A sensor that notices a changed sources.yaml and harvests only the new or changed sources."""

import hashlib
import json

import dagster as dg

from pipelines.config import load_registry
from pipelines.defs.harvest import harvest_run_config
from pipelines.defs.schedules import harvest_job
from pipelines.errors import ConfigError


def source_fingerprints() -> dict[str, str]:
    """Source id -> hash of its validated configuration."""
    registry = load_registry()
    return {s.id: hashlib.sha1(s.model_dump_json().encode()).hexdigest()[:16] for s in registry.enabled()}


@dg.sensor(job=harvest_job, minimum_interval_seconds=60,
           description="Harvests the sources added or changed in sources.yaml since it last looked.")
def sources_changed(context: dg.SensorEvaluationContext):
    try:
        current = source_fingerprints()
    except ConfigError as exc:
        return dg.SkipReason(f"sources.yaml is invalid, nothing harvested:\n{exc}")
    if context.cursor is None:
        # First look: remember the file as it is; the daily schedule covers what is already there.
        context.update_cursor(json.dumps(current, sort_keys=True))
        return dg.SkipReason(f"recorded {len(current)} sources; will harvest the ones added or changed from now on")
    previous = json.loads(context.cursor)
    changed = sorted(sid for sid, digest in current.items() if previous.get(sid) != digest)
    cursor = json.dumps(current, sort_keys=True)
    context.update_cursor(cursor)
    if not changed:
        return dg.SkipReason("no source added or changed")
    return dg.RunRequest(
        run_key=hashlib.sha1(cursor.encode()).hexdigest(),
        run_config={"ops": harvest_run_config(only_sources=changed)},
        tags={"opengovtech/trigger": "sources-changed", "opengovtech/sources": ",".join(changed)[:200]},
    )
