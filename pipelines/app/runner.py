"""Materialise the Dagster definitions in this process, on a persistent Dagster instance.

`opengovtech run`, `demo` and `rebuild` (and the tests' hub) all come here: the stages and their
order are the assets' (pipelines/defs/); each command picks a job of them. The run is recorded
under DAGSTER_HOME (default `warehouse/dagster/` beside the DuckDB file), so `dagster dev` shows
its history afterwards.
"""

from __future__ import annotations

import functools
import os
from contextlib import nullcontext
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.tuning import kept_until_exit
from pipelines.store.warehouse import write_lock

if TYPE_CHECKING:
    import dagster as dg

DAGSTER_YAML = """# Local instance for `opengovtech run` and `dagster dev` (docs/deploy.md).
telemetry:
  enabled: false
run_retries:
  enabled: true      # the daemon retries harvest_job runs whose process died (see its tags)
  max_retries: 2
# Steps' stdout and stderr are not copied to files: capturing them started four helper processes
# per run (two `tail`s and their watchers); the steps' logs stay in the event log.
compute_logs:
  module: dagster._core.storage.noop_compute_log_manager
  class: NoOpComputeLogManager
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
    # asset name -> the metadata its materialisation in this run recorded (plain values)
    materialised: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class CheckOutcome:
    """One Dagster asset check's evaluation in this run."""

    name: str
    passed: bool
    severity: str   # ERROR | WARN
    summary: str


@functools.cache
def run_definitions() -> dg.Definitions:
    """The definitions in defs/ for a run in this process: the modules `dagster dev` loads through
    pipelines/definitions.py, without what load_from_defs_folder adds there for `dg` and the UI (the
    schemas of every installed component type), which a run never reads and every run paid for."""
    import dagster as dg

    import pipelines.defs
    from pipelines.defs.resources import resources

    # Dagster calls the package loader "preview"; test_run_command holds both loads equal.
    with kept_until_exit(), warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.load_definitions_from_package_module(pipelines.defs, resources=resources().resources)


def run_pipeline(sources_path: Path, warehouse_path: Path, lock_wait_s: float = 0.0, prune: bool = False,
                 ignore_backoff: bool = False, site_base_url: str | None = None, *, with_site: bool = True,
                 run_id: str | None = None, instance: dg.DagsterInstance | None = None) -> PipelineRun:
    """The harvest job: every stage from the registry to the site. `with_site=False` leaves the
    site out (the tests' hub harvests many times and builds its site only where a test asks)."""
    from pipelines.defs.harvest import harvest_run_config
    from pipelines.defs.schedules import HARVEST_JOB_NAME

    job = run_definitions().resolve_job_def(HARVEST_JOB_NAME)
    left_out = set(harvest_assets_without_sources(sources_path))
    if not with_site:
        from pipelines.defs.publish import hub_site

        left_out.add(hub_site.key)
    selection = [key for key in job.asset_layer.executable_asset_keys if key not in left_out] if left_out else None
    return _execute(job, sources_path, warehouse_path, lock_wait_s, site_base_url,
                    harvest_run_config(prune=prune, ignore_backoff=ignore_backoff),
                    selection=selection, run_id=run_id, instance=instance, trigger="cli")


def harvest_assets_without_sources(sources_path: Path) -> list[dg.AssetKey]:
    """The harvest assets of kinds sources.yaml has no enabled source of: a run leaves them out, so
    it records no empty materialisations for them. Nothing if the file does not load: the run's
    source_registry step then reports why, as before."""
    from pipelines.config import load_registry
    from pipelines.defs.harvest import harvest, harvest_assets_with_sources
    from pipelines.errors import ConfigError

    try:
        registry = load_registry(sources_path)   # the steps reuse it (load_registry keeps it)
    except ConfigError:
        return []
    return sorted(set(harvest.keys) - set(harvest_assets_with_sources(registry)))


def rebuild_pipeline(sources_path: Path, warehouse_path: Path, lock_wait_s: float = 0.0) -> PipelineRun:
    """The rebuild job: every stored record normalised again, then published; nothing fetched."""
    from pipelines.defs.normalise import rebuild_run_config
    from pipelines.defs.schedules import REBUILD_JOB_NAME

    job = run_definitions().resolve_job_def(REBUILD_JOB_NAME)
    return _execute(job, sources_path, warehouse_path, lock_wait_s, None, rebuild_run_config(),
                    trigger="rebuild")


def _execute(job: dg.JobDefinition, sources_path: Path, warehouse_path: Path, lock_wait_s: float,
             site_base_url: str | None, ops_config: dict, *, selection: list | None = None,
             run_id: str | None = None, instance: dg.DagsterInstance | None = None, trigger: str) -> PipelineRun:
    import dagster as dg

    run_id = run_id or str(uuid.uuid4())
    run_config = {
        "resources": {
            "sources": {"config": {"path": str(sources_path), "site_base_url": site_base_url or ""}},
            "warehouse": {"config": {"path": str(warehouse_path), "lock_wait_s": lock_wait_s}},
        },
        # The CLI prints its own summary and error line; Dagster's event log keeps the details.
        "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
        "ops": ops_config,
    }
    if instance is None:
        prepare_dagster_home(warehouse_path)
    # Hold the lock for the whole run (the assets re-enter it in this process), so a
    # second `opengovtech run` is turned away before it starts any work.
    with write_lock(warehouse_path, run_id, lock_wait_s), \
            (dg.DagsterInstance.get() if instance is None else nullcontext(instance)) as active:
        result = job.execute_in_process(run_config=run_config, instance=active, run_id=run_id,
                                        asset_selection=selection, raise_on_error=False,
                                        tags={"opengovtech/trigger": trigger})
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
    materialised = {event.asset_key.to_user_string(): {k: getattr(v, "value", v)
                                                       for k, v in event.materialization.metadata.items()}
                    for event in result.get_asset_materialization_events()}
    return PipelineRun(run_id=run_id, success=result.success, failure=failure, failure_details=details,
                       checks=sorted(checks, key=lambda c: c.name), materialised=materialised)

