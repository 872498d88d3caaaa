"""The sources_changed sensor: a changed sources.yaml leads to a run of just the new or changed sources."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import CORPUS, serve_file


def write(path, sources):
    path.write_text(yaml.safe_dump({"defaults": {"allow_private_networks": True}, "sources": sources}))


@pytest.mark.slow  # imports Dagster, which is slow to import on its own
def test_sensor_requests_a_run_of_only_added_and_changed_sources(tmp_path, monkeypatch):
    import dagster as dg   # here, not at the top: collecting the fast tier never imports Dagster

    from pipelines.defs.sensors import sources_changed

    path = tmp_path / "sources.yaml"
    monkeypatch.setenv("OPENGOVTECH_SOURCES", str(path))
    a = {"id": "a", "kind": "feed", "url": "https://a.example/feed"}
    b = {"id": "b", "kind": "feed", "url": "https://b.example/feed"}
    write(path, [a, b])
    with dg.instance_for_test() as instance:
        first = dg.build_sensor_context(instance=instance)
        assert isinstance(sources_changed(first), dg.SkipReason)  # the first look only records
        cursor = first.cursor

        unchanged = dg.build_sensor_context(instance=instance, cursor=cursor)
        assert "no source added or changed" in sources_changed(unchanged).skip_message

        write(path, [a, {**b, "org": "B Council"}, {"id": "c", "kind": "feed", "url": "https://c.example/feed"}])
        changed = dg.build_sensor_context(instance=instance, cursor=cursor)
        request = sources_changed(changed)
        assert isinstance(request, dg.RunRequest)
        assert request.run_config["ops"]["harvest"]["ops"]["plan_shards"]["config"]["only_sources"] == ["b", "c"]

        path.write_text("sources:\n  - id: x\n    kind: rss\n")
        broken = dg.build_sensor_context(instance=instance, cursor=changed.cursor)
        assert "unknown kind 'rss'" in sources_changed(broken).skip_message


def test_only_sources_harvests_just_those(loopback, hub):
    serve_file(loopback, "/a.rss", CORPUS / "feeds" / "wordpress_manton.rss")
    serve_file(loopback, "/b.atom", CORPUS / "feeds" / "data_blog_gov_uk_trimmed.atom")
    hub.write_sources([{"id": "a", "kind": "feed", "url": loopback.url_for("/a.rss"), "tagged_only": False},
                       {"id": "b", "kind": "feed", "url": loopback.url_for("/b.atom"), "tagged_only": False}])
    import dagster as dg

    from pipelines.defs.harvest import harvest, harvest_run_config, source_registry
    from pipelines.defs.resources import SourcesResource, WarehouseResource

    # The harvest assets with the run config the sensor sends for a change to source b.
    result = dg.materialize([source_registry, harvest], run_config={"ops": harvest_run_config(only_sources=["b"])},
                            resources={"sources": SourcesResource(path=str(hub.sources_path)),
                                       "warehouse": WarehouseResource(path=str(hub.warehouse_path))})
    assert result.success
    assert hub.query("SELECT source_id FROM source_runs") == [("b",)]
    assert [r.path for r, _ in loopback.log if r.path.endswith((".rss", ".atom"))] == ["/b.atom"]
