"""The harvest job and the schedules: daily harvest, weekly link check (cron and timezone from
sources.yaml's `schedule:`)."""


import dagster as dg

from pipelines.config import ScheduleConfig, load_registry
from pipelines.defs.harvest import source_registry
from pipelines.defs.link_check import link_check_job
from pipelines.errors import ConfigError

HARVEST_JOB_NAME = "harvest_job"
SHARDED_JOB_NAME = "sharded_harvest_job"
REBUILD_JOB_NAME = "rebuild_job"

# Every stage, from sources.yaml to the site.
HARVEST_SELECTION = dg.AssetSelection.groups("harvest", "normalise", "publish")

harvest_job = dg.define_asset_job(
    HARVEST_JOB_NAME,
    selection=HARVEST_SELECTION,
    description="Harvest every source, rebuild hub_items, the search index and the site.",
    # Retry a run whose process died (a transient failure: OOM kill, host restart), from the
    # failed step; a step that raised is a bug or bad data, and retrying it would only repeat it.
    # Needs `run_retries: enabled: true` in dagster.yaml (the default one written for you has it).
    tags={"dagster/max_retries": "2", "dagster/retry_strategy": "FROM_FAILURE",
          "dagster/retry_on_asset_or_op_failure": "false"},
)


sharded_harvest_job = dg.define_asset_job(
    SHARDED_JOB_NAME,
    selection=HARVEST_SELECTION,
    executor_def=dg.multiprocess_executor,
    description="The harvest job with its sources split into shards, each harvested in a process of its own, one "
                "writer loading them (docs/scaling.md); set ops.harvest.ops.plan_shards.config.shards.",
)

rebuild_job = dg.define_asset_job(
    REBUILD_JOB_NAME,
    selection=dg.AssetSelection.assets(source_registry) | dg.AssetSelection.groups("normalise", "publish"),
    description="Normalise every stored record again and publish it, fetching nothing (`opengovtech rebuild`; "
                "run it with ops.hub_items.config.force: true after changing aliases.yaml or kind hints).",
)


def _schedule_config() -> ScheduleConfig:
    try:
        return load_registry().schedule
    except ConfigError:
        # The registry asset reports the problem on the run; the code location still loads.
        return ScheduleConfig()


_config = _schedule_config()

daily_harvest = dg.ScheduleDefinition(
    name="daily_harvest",
    job=harvest_job,
    cron_schedule=_config.cron,
    execution_timezone=_config.timezone,
    description="Harvest all sources once a day.",
)

weekly_link_check = dg.ScheduleDefinition(
    name="weekly_link_check",
    job=link_check_job,
    cron_schedule=_config.link_check_cron,
    execution_timezone=_config.timezone,
    description="Check story and asset links once a week.",
)
