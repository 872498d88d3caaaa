"""The link check: do the hub's stories and assets still resolve? Its own job (scheduled weekly in schedules.py)."""


import dagster as dg

from pipelines.defs.normalise import hub_items
from pipelines.defs.resources import SourcesResource, WarehouseResource
from pipelines.publish.link_checker import check_links

LINK_CHECK_JOB_NAME = "link_check_job"


@dg.asset(group_name="maintenance", deps=[hub_items],
          description="HEAD (then GET) every story and asset URL not checked in the last days; status and "
                      "checked_at in link_checks, shown as link_status/link_ok in hub_items. Never deletes.")
def link_check(context: dg.AssetExecutionContext, sources: SourcesResource,
               warehouse: WarehouseResource) -> dg.MaterializeResult:
    registry = sources.load()
    with warehouse.open(context.run_id) as wh:
        report = check_links(registry, wh)
        broken_total = wh.con.execute("SELECT count(*) FROM link_checks WHERE NOT ok").fetchone()[0]
    context.log.info(f"checked {report.checked} links: {report.broken} broken ({report.requests} requests)")
    return dg.MaterializeResult(metadata={"checked": report.checked, "broken": report.broken,
                                          "requests": report.requests, "broken_total": broken_total})


link_check_job = dg.define_asset_job(LINK_CHECK_JOB_NAME, selection=dg.AssetSelection.assets(link_check),
                                     description="Check the hub's story and asset links.")
