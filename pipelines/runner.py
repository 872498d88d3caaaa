"""`opengovtech run`: materialise the harvest job in this process, on a persistent Dagster instance.

The run is recorded under DAGSTER_HOME (default `warehouse/dagster/` beside the DuckDB
file), so `dagster dev` shows its history afterwards.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.tuning import kept_until_exit
from pipelines.warehouse import write_lock

DAGSTER_YAML = """# Local instance for `opengovtech run` and `dagster dev` (docs/deploy.md).
telemetry:
  enabled: false
run_retries:
  enabled: true      # the daemon retries harvest_job runs whose process died (see its tags)
  max_retries: 2
"""


def prepare_dagster_home(warehouse_path: Path) -> Path:
    home = Path(os.environ.get("DAGSTER_HOME") or warehouse_path.parent / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML, encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


@dataclass
class PipelineRun:
    run_id: str
    success: bool
    failure: str | None   # the root cause of the first step failure, one line
    failure_details: str | None = None  # the full error chain with stack traces
    checks: list[CheckOutcome] = field(default_factory=list)


@dataclass
class CheckOutcome:
    """One Dagster asset check's evaluation in this run."""

    name: str
    passed: bool
    severity: str   # ERROR | WARN
    summary: str


def run_pipeline(sources_path: Path, warehouse_path: Path, lock_wait_s: float = 0.0, prune: bool = False,
                 ignore_backoff: bool = False, site_base_url: str | None = None) -> PipelineRun:
    prepare_dagster_home(warehouse_path)
    with kept_until_exit():
        import dagster as dg

        from pipelines.defs.harvest import harvest_asset_name
        from pipelines.defs.schedules import HARVEST_JOB_NAME
        from pipelines.harvest import HARVESTERS
        from pipelines.definitions import defs

        job = defs().resolve_job_def(HARVEST_JOB_NAME)
    run_id = str(uuid.uuid4())
    run_config = {
        "resources": {
            "sources": {"config": {"path": str(sources_path), "site_base_url": site_base_url or ""}},
            "warehouse": {"config": {"path": str(warehouse_path), "lock_wait_s": lock_wait_s}},
        },
        # The CLI prints its own summary and error line; Dagster's event log keeps the details.
        "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
        "ops": {"source_registry": {"config": {"prune": prune}},
                **{harvest_asset_name(kind): {"config": {"ignore_backoff": ignore_backoff}} for kind in HARVESTERS}},
    }
    # Hold the lock for the whole run (the assets re-enter it in this process), so a
    # second `opengovtech run` is turned away before it starts any work.
    with write_lock(warehouse_path, run_id, lock_wait_s), dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(run_config=run_config, instance=instance, run_id=run_id,
                                        raise_on_error=False, tags={"opengovtech/trigger": "cli"})
    failure = details = None
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
                error = event.step_failure_data.error
                details = error.to_string()
                while error.cause is not None:  # Dagster wraps the asset's exception; report the asset's
                    error = error.cause
                failure = f"step {event.step_key}: {error.message.strip()}"
                break
    checks = [CheckOutcome(name=e.check_name, passed=e.passed, severity=e.severity.value,
                           summary=e.description or "")
              for e in result.get_asset_check_evaluations()]
    return PipelineRun(run_id=run_id, success=result.success, failure=failure, failure_details=details,
                       checks=sorted(checks, key=lambda c: c.name))
