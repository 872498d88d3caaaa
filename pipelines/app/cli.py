"""The `opengovtech` command.

Kept light at import time: `opengovtech search` must start fast, so dagster (and the
harvest machinery) is imported only inside the commands that need it.
"""

from __future__ import annotations

import json
import sys
import traceback
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipelines.config import resolve_sources_path
from pipelines.errors import (FAILED_STATUSES, SUCCEEDED_STATUSES, ConfigError, HubError, SiteBuildError,
                             WarehouseLockedError)
from pipelines.tuning import skip_collection_at_exit

EXIT_OK, EXIT_UNEXPECTED, EXIT_CONFIG, EXIT_ALL_FAILED, EXIT_LOCKED, EXIT_CHECKS_FAILED = 0, 1, 2, 3, 4, 5
DEFAULT_WAREHOUSE = "warehouse/hub.duckdb"

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Harvest #OpenGovTech stories, techniques and assets into a searchable hub.")
sources_app = typer.Typer(no_args_is_help=True, help="Check sources.yaml and how each source is doing.")
app.add_typer(sources_app, name="sources")
site_app = typer.Typer(no_args_is_help=True, help="Build the static hub site.")
app.add_typer(site_app, name="site")

# Piped output (logs, CI) is not squeezed into 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

SourcesOption = typer.Option(None, "--sources", help="sources.yaml path [env: OPENGOVTECH_SOURCES]")
BaseUrlOption = typer.Option(None, "--base-url", help="Where the site will be served from, over sources.yaml's "
                                                      "site.base_url (GitHub Pages: https://OWNER.github.io/REPO/) "
                                                      "[env: OPENGOVTECH_SITE_BASE_URL]")
WarehouseOption = typer.Option(None, "--warehouse", help=f"DuckDB file [env: OPENGOVTECH_WAREHOUSE; default {DEFAULT_WAREHOUSE}]")


def _warehouse_path(value: Optional[Path]) -> Path:
    from pipelines.store.location import resolve_warehouse_path

    return resolve_warehouse_path(value)


def _fail(message: str, code: int) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


# --- run ----------------------------------------------------------------------------------

@app.command()
def run(
    sources: Optional[Path] = SourcesOption,
    warehouse: Optional[Path] = WarehouseOption,
    wait: float = typer.Option(0.0, "--wait", help="Seconds to wait for another run's lock before giving up"),
    prune: bool = typer.Option(False, "--prune", help="Delete the items of sources removed from sources.yaml "
                                                      "(by default they are kept)"),
    ignore_backoff: bool = typer.Option(False, "--ignore-backoff", help="Also try sources that are backing off "
                                                                        "after failing several runs in a row"),
    base_url: Optional[str] = BaseUrlOption,
    summary: Optional[Path] = typer.Option(None, "--summary", help="Also append the sources table and the data "
                                                                   "checks as Markdown to this file (in GitHub "
                                                                   "Actions: \"$GITHUB_STEP_SUMMARY\")"),
    fail_on_checks: bool = typer.Option(False, "--fail-on-checks", help="Exit 5 when a data check of severity "
                                                                        "ERROR fails"),
) -> None:
    """Harvest every source, rebuild hub_items and the search index (the Dagster job, in process).

    Exit codes: 0 completed (failed sources are listed), 1 unexpected error, 2 invalid
    configuration, 3 every source failed, 4 warehouse locked by another run, 5 a data check
    failed (with --fail-on-checks).
    """
    from pipelines.config import load_registry, site_published_at

    sources_path = resolve_sources_path(sources)
    warehouse_path = _warehouse_path(warehouse)
    try:
        registry = load_registry(sources_path)
        site_published_at(registry.site, base_url)   # a bad address is refused before any harvest
    except ConfigError as exc:
        _fail(f"invalid configuration:\n{exc}", EXIT_CONFIG)

    from pipelines.app.runner import run_pipeline

    try:
        with progress_bar():
            result = run_pipeline(sources_path, warehouse_path, wait, prune=prune, ignore_backoff=ignore_backoff,
                                  site_base_url=base_url)
    except WarehouseLockedError as exc:
        _fail(str(exc), EXIT_LOCKED)
    except Exception:
        log = _write_crash_log(warehouse_path, traceback.format_exc())
        _fail(f"unexpected error: {sys.exc_info()[1]} (traceback in {log})", EXIT_UNEXPECTED)
    if not result.success:
        log = _write_crash_log(warehouse_path, f"run {result.run_id} failed:\n{result.failure_details}")
        first_line = (result.failure or "see the log").strip().splitlines()[0]
        _fail(f"run {result.run_id} failed: {first_line} (details in {log})", EXIT_UNEXPECTED)

    rows = _run_summary(warehouse_path, result.run_id)
    _print_summary(rows, warehouse_path, result.run_id)
    _print_checks(result.checks)
    if summary is not None:
        from pipelines.app.run_summary import markdown_summary

        with open(summary, "a", encoding="utf-8") as markdown:
            markdown.write(markdown_summary(rows, result.checks, result.run_id, str(warehouse_path)) + "\n")
    enabled = len(registry.enabled())
    tried = [r for r in rows if r["status"] != "backoff"]
    if enabled and tried and all(r["status"] in FAILED_STATUSES for r in tried):
        err.print(f"[red]every source failed[/red] ({len(rows)} of {enabled})")
        raise typer.Exit(EXIT_ALL_FAILED)
    if fail_on_checks:
        from pipelines.app.run_summary import failed_error_checks

        failed = failed_error_checks(result.checks)
        if failed:
            err.print(f"[red]data checks failed:[/red] {', '.join(c.name for c in failed)}", highlight=False)
            raise typer.Exit(EXIT_CHECKS_FAILED)


def _print_checks(checks) -> None:
    """The data-quality checks (the run's Dagster asset checks, or pipelines.normalise.quality), one line each."""
    if not checks:
        return
    failed = [c for c in checks if not c.passed]
    out.print(f"data checks: {len(checks) - len(failed)} of {len(checks)} passed", highlight=False)
    for check in checks:
        mark = "[green]ok[/green]" if check.passed else \
            ("[yellow]warn[/yellow]" if check.severity == "WARN" else "[red]FAIL[/red]")
        out.print(f"  {mark} {check.name}: {check.summary}", highlight=False)


def _write_crash_log(warehouse_path: Path, text: str) -> Path:
    logs = warehouse_path.parent / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / f"opengovtech-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.log"
    path.write_text(text, encoding="utf-8")
    return path


def _run_summary(warehouse_path: Path, run_id: str) -> list[dict]:
    from pipelines.store.warehouse import open_for_reading

    with open_for_reading(warehouse_path) as con:
        cursor = con.execute(
            """SELECT source_id, status, entries_read AS fetched, new, updated, unchanged, http_status, error
               FROM source_runs WHERE run_id = ? ORDER BY status IN ('ok', 'not_modified'), source_id""", [run_id])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def _print_summary(rows: list[dict], warehouse_path: Path, run_id: str) -> None:
    from pipelines.app.run_summary import COUNT_COLUMNS, SOURCE_COLUMNS, select_sources

    selection = select_sources(rows)
    if selection.listed:
        table = Table(title=f"run {run_id}", title_justify="left")
        for column in SOURCE_COLUMNS:
            table.add_column(column, justify="right" if column in COUNT_COLUMNS else "left",
                             overflow="fold", no_wrap=column in ("source", "status"))
        colours = {"ok": "green", "not_modified": "cyan", "deferred": "yellow", "backoff": "yellow"}
        for r in selection.listed:
            colour = colours.get(r["status"], "red")
            table.add_row(r["source_id"], f"[{colour}]{r['status']}[/{colour}]", str(r["fetched"]), str(r["new"]),
                          str(r["updated"]), str(r["unchanged"]), r["error"] or "")
        out.print(table)
    out.print(selection.sentence(str(warehouse_path)), highlight=False)


class RichProgress:
    """A progress bar on stderr for the harvest stage."""

    def __init__(self, console: Console):
        self.console = console
        self._progress = None
        self._task = None

    def start(self, stage: str, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.finish()
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=self.console, transient=True)
        self._progress.start()
        self._task = self._progress.add_task(stage, total=total)

    def advance(self, label: str) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


@contextmanager
def progress_bar():
    """Show the harvest's progress on stderr while the pipeline runs in this process."""
    from pipelines.progress import set_reporter

    progress = RichProgress(err)
    set_reporter(progress)
    try:
        yield
    finally:
        progress.finish()
        set_reporter(None)


# --- demo ---------------------------------------------------------------------------------

@app.command()
def demo(
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Directory for the demo sources.yaml and warehouse "
                                                           "[default: a new temp dir]"),
    no_serve: bool = typer.Option(False, "--no-serve", help="Exit after building instead of serving the hub site"),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port for serving the hub site on 127.0.0.1"),
) -> None:
    """Run the whole pipeline offline on bundled sample sources, then serve the hub site built from them."""
    from pipelines.app.demo import point_github_at, prepare, start_sample_server, write_demo_sources
    from pipelines.app.runner import run_pipeline

    directory, sources_path, warehouse_path = prepare(out_dir)
    server = start_sample_server()
    try:
        write_demo_sources(directory, server.base_url)
        point_github_at(server)
        out.print(f"Sample sources served at {server.base_url}; demo files in {directory}", highlight=False)
        with progress_bar():
            result = run_pipeline(sources_path, warehouse_path)
    finally:
        server.stop()
    if not result.success:
        _fail(f"demo run failed: {result.failure}", EXIT_UNEXPECTED)
    _print_summary(_run_summary(warehouse_path, result.run_id), warehouse_path, result.run_id)
    _print_checks(result.checks)
    from pipelines.publish.site import default_site_dir

    site_dir = default_site_dir(warehouse_path)
    out.print("\nTry a search on the demo hub:", highlight=False)
    out.print(f'  opengovtech search "open data" --warehouse {warehouse_path}', highlight=False, soft_wrap=True)
    out.print(f"  opengovtech sources status --warehouse {warehouse_path}", highlight=False, soft_wrap=True)
    out.print(f"The hub site is built in {site_dir}", highlight=False, soft_wrap=True)
    if no_serve:
        out.print(f"  opengovtech serve --dir {site_dir}", highlight=False, soft_wrap=True)
        return
    _serve_site(site_dir, port, "\nServing the demo hub at {url} (Ctrl-C to stop)", any_free_port=True)


# --- search -------------------------------------------------------------------------------

@app.command()
def search(
    query: str = typer.Argument(..., help='Words to look for (all must appear); "quoted phrases" match in order'),
    kind: Optional[str] = typer.Option(None, "--kind", help="story, technique, asset, event or community"),
    tag: Optional[str] = typer.Option(None, "--tag", help="Only items carrying this tag"),
    org: Optional[str] = typer.Option(None, "--org", help="Only items of this organisation (any case)"),
    source: Optional[str] = typer.Option(None, "--source", help="Only items from this source id"),
    since: Optional[datetime] = typer.Option(None, "--since", formats=["%Y-%m-%d"], help="Published on or after YYYY-MM-DD"),
    until: Optional[datetime] = typer.Option(None, "--until", formats=["%Y-%m-%d"], help="Published on or before YYYY-MM-DD"),
    language: Optional[str] = typer.Option(None, "--language", help="Language code, e.g. en (also matches en-GB)"),
    facets: bool = typer.Option(False, "--facets", help="Also count matches by kind, tag, organisation and year"),
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: an array of hits, or with --facets an object "
                                                        "{hits, total, facets}"),
    warehouse: Optional[Path] = WarehouseOption,
) -> None:
    """Full-text search over the hub (BM25; title and tags weigh more; English stemming)."""
    from pipelines.publish.search import SearchFilters, index_path_for, search_with_facets

    filters = SearchFilters(kind=kind, tag=tag, org=org, source=source, language=language,
                            since=since.date() if since else None, until=until.date() if until else None)
    try:
        result = search_with_facets(index_path_for(_warehouse_path(warehouse)), query, filters, limit, facets=facets)
    except HubError as exc:
        _fail(str(exc), EXIT_CONFIG)
    if as_json:
        hits = [h.as_dict() for h in result.hits]
        payload = {"hits": hits, "total": result.total, "facets": result.facets} if facets else hits
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    if not result.hits:
        out.print(f"No items match {query!r}.", highlight=False)
    for rank, hit in enumerate(result.hits, 1):
        when = (hit.published_at or "")[:10]
        org_name = f" · {hit.organisation}" if hit.organisation else ""
        out.print(f"[bold]{rank}. {escape(hit.title)}[/bold]  [dim]{hit.kind}{escape(org_name)} · {when} · "
                  f"score {hit.score:.2f}[/dim]", highlight=False)
        if hit.url:
            out.print(f"   {escape(hit.url)}", highlight=False, soft_wrap=True)
        if hit.snippet:
            out.print("   " + _marked(hit.snippet), highlight=False)
    if result.facets is not None:
        out.print(f"\n{result.total} matching item(s)", highlight=False)
        for name, counts in result.facets.items():
            shown = ", ".join(f"{escape(value)} ({n})" for value, n in counts) or "none"
            out.print(f"[bold]{name}[/bold]: {shown}", highlight=False, soft_wrap=True)


def _marked(snippet: str) -> str:
    """Show the search index's **marked** terms in bold, everything else as literal text."""
    from pipelines.publish.search import MARK

    pieces = snippet.split(MARK)  # odd pieces sit between a pair of marks
    return "".join(f"[bold yellow]{escape(p)}[/bold yellow]" if i % 2 else escape(p) for i, p in enumerate(pieces))


# --- rebuild and link check ------------------------------------------------------------------

@app.command()
def rebuild(
    sources: Optional[Path] = SourcesOption,
    warehouse: Optional[Path] = WarehouseOption,
    wait: float = typer.Option(0.0, "--wait", help="Seconds to wait for another run's lock before giving up"),
) -> None:
    """Re-normalise every stored record (clean, dedupe, classify, link) without fetching anything,
    then refresh the search index and the site. Use after changing aliases.yaml, item_kind hints or upgrading.

    Exit codes: 0 rebuilt, 1 unexpected error, 2 invalid configuration or no warehouse, 4 warehouse
    locked by another run."""
    from pipelines.config import load_registry
    from pipelines.normalise.aliases import aliases_path_for, load_aliases

    sources_path = resolve_sources_path(sources)
    try:
        load_registry(sources_path)
        load_aliases(aliases_path_for(sources_path))   # refused here, before the run, as invalid configuration
    except ConfigError as exc:
        _fail(f"invalid configuration:\n{exc}", EXIT_CONFIG)
    warehouse_path = _warehouse_path(warehouse)
    if not warehouse_path.exists():
        _fail(f"no warehouse at {warehouse_path}: run `opengovtech run` first", EXIT_CONFIG)

    from pipelines.app.runner import rebuild_pipeline

    try:
        result = rebuild_pipeline(sources_path, warehouse_path, wait)
    except WarehouseLockedError as exc:
        _fail(str(exc), EXIT_LOCKED)
    if not result.success:
        log = _write_crash_log(warehouse_path, f"rebuild {result.run_id} failed:\n{result.failure_details}")
        first_line = (result.failure or "see the log").strip().splitlines()[0]
        _fail(f"rebuild {result.run_id} failed: {first_line} (details in {log})", EXIT_UNEXPECTED)
    build = result.materialised["hub_items"]
    out.print(f"Rebuilt {build['items']} items from {build['entries_normalised']} stored entries: "
              f"{build['near_duplicates_merged']} near-duplicates merged, {build['projects']} projects, "
              f"{build['organisations']} organisations. Warehouse: {warehouse_path}", highlight=False, soft_wrap=True)
    _print_checks(result.checks)


@app.command("check-links")
def check_links_command(
    sources: Optional[Path] = SourcesOption,
    warehouse: Optional[Path] = WarehouseOption,
    wait: float = typer.Option(0.0, "--wait", help="Seconds to wait for another run's lock before giving up"),
) -> None:
    """Check story and asset links now (the weekly_link_check schedule does this in Dagster)."""
    import uuid

    from pipelines.config import load_registry
    from pipelines.publish.link_checker import check_links
    from pipelines.store.warehouse import open_for_writing

    try:
        registry = load_registry(resolve_sources_path(sources))
    except ConfigError as exc:
        _fail(f"invalid configuration:\n{exc}", EXIT_CONFIG)
    try:
        with open_for_writing(_warehouse_path(warehouse), f"links-{uuid.uuid4().hex[:8]}", wait) as wh:
            report = check_links(registry, wh)
            broken = wh.con.execute("""SELECT c.url, coalesce(c.error, '') FROM link_checks c
                                       WHERE NOT c.ok ORDER BY c.broken_since, c.url LIMIT 20""").fetchall()
    except WarehouseLockedError as exc:
        _fail(str(exc), EXIT_LOCKED)
    out.print(f"Checked {report.checked} links ({report.requests} requests): {report.broken} broken.", highlight=False)
    for url, error in broken:
        out.print(f"  [red]broken[/red] {url} {escape(error)}", highlight=False, soft_wrap=True)


# --- site -----------------------------------------------------------------------------------

SiteDirOption = typer.Option(None, "--out", help="Directory for the site [default: site/ beside the warehouse]")


@site_app.command("build")
def site_build(
    out_dir: Optional[Path] = SiteDirOption,
    sources: Optional[Path] = SourcesOption,
    warehouse: Optional[Path] = WarehouseOption,
    no_search: bool = typer.Option(False, "--no-search", help="Skip the Pagefind index (pages and feeds only)"),
    base_url: Optional[str] = BaseUrlOption,
) -> None:
    """Build the hub site (pages, Pagefind search, feeds, data export) from the warehouse."""
    from pipelines.config import SiteConfig, load_registry, site_published_at
    from pipelines.publish.site import build_site_from_file

    sources_path = resolve_sources_path(sources)
    site_config = SiteConfig()  # no sources.yaml here: a warehouse copied elsewhere still builds
    try:
        if sources_path.exists():
            site_config = load_registry(sources_path).site
        site_config = site_published_at(site_config, base_url)
    except ConfigError as exc:
        _fail(f"invalid configuration:\n{exc}", EXIT_CONFIG)
    try:
        built = build_site_from_file(_warehouse_path(warehouse), out_dir, site_config, search=not no_search)
    except WarehouseLockedError as exc:
        _fail(f"{exc}\n(the pipeline builds the site itself at the end of each run)", EXIT_LOCKED)
    except SiteBuildError as exc:
        _fail(str(exc), EXIT_UNEXPECTED)
    except HubError as exc:
        _fail(str(exc), EXIT_CONFIG)
    out.print(f"Built {built.pages} pages for {built.items} items in {built.seconds:.1f} s "
              f"({built.bytes / 1e6:.1f} MB) at {built.path}: {built.summary()}", highlight=False, soft_wrap=True)
    if built.search_index:
        out.print(f"Search index: {built.search_index}", highlight=False)
    out.print(f"Serve it with: opengovtech serve --dir {built.path}", highlight=False, soft_wrap=True)


@app.command()
def serve(
    site_dir: Optional[Path] = typer.Option(None, "--dir", help="The built site [default: site/ beside the warehouse]"),
    warehouse: Optional[Path] = WarehouseOption,
    port: int = typer.Option(8000, "--port", min=0, max=65535),
) -> None:
    """Serve the built hub site on 127.0.0.1 (Ctrl-C to stop)."""
    from pipelines.publish.site import default_site_dir

    directory = site_dir or default_site_dir(_warehouse_path(warehouse))
    if not (directory / "index.html").exists():
        _fail(f"no built site at {directory}: run `opengovtech run` or `opengovtech site build` first", EXIT_CONFIG)
    _serve_site(directory, port, f"Serving {directory} at {{url}} (Ctrl-C to stop)")


def _serve_site(directory: Path, port: int, announcement: str, *, any_free_port: bool = False) -> None:
    """Serve a built site on 127.0.0.1 until Ctrl-C; `announcement` names the URL as {url}."""
    from pipelines.publish.site.serve import SiteServer

    try:
        server = SiteServer(directory, port=port)
    except OSError as exc:
        if not any_free_port:
            _fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror} (choose another with --port)", EXIT_CONFIG)
        server = SiteServer(directory, port=0)  # the port is taken: any free one will do for a demo
    out.print(announcement.format(url=server.url), highlight=False, soft_wrap=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


# --- check --------------------------------------------------------------------------------

@app.command()
def check(
    url: str = typer.Argument(..., help="A blog post, feed, toot, Bluesky post, dev.to article or GitHub repo URL"),
    sources: Optional[Path] = SourcesOption,
    warehouse: Optional[Path] = WarehouseOption,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
) -> None:
    """Would the hub pick this URL up? Says which source covers it (or the sources.yaml entry to
    add), whether it is reachable and allowed by robots.txt, where the tag was found or where it
    was looked for, the kind it would get and whether it is already in the hub.

    Exit status: 0 picked up or would be, 1 would not be (reasons printed), 2 error."""
    from pipelines.app.pickup_check import EXIT_ERROR, check_url, format_report
    from pipelines.config import check_http_url, load_registry

    try:
        check_http_url(url)
    except ValueError as exc:
        _fail(str(exc), EXIT_ERROR)
    path = resolve_sources_path(sources)
    registry = None
    if path.exists():
        try:
            registry = load_registry(path)
        except ConfigError as exc:
            _fail(f"invalid configuration:\n{exc}", EXIT_ERROR)
    else:
        err.print(f"note: {path} not found; checking against no sources", highlight=False)
    try:
        report = check_url(url, registry, _warehouse_path(warehouse))
    except HubError as exc:
        _fail(str(exc), EXIT_ERROR)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        out.print(format_report(report), highlight=False, soft_wrap=True, markup=False)
    raise typer.Exit(report.exit_code)


# --- init ---------------------------------------------------------------------------------

@app.command()
def init(
    directory: Path = typer.Argument(Path("."), help="The hub repository [default: the current directory]"),
    force: bool = typer.Option(False, "--force", help="Rewrite the workflows and the issue form (after changing "
                                                      "sources.yaml's schedule or upgrading); never sources.yaml "
                                                      "or aliases.yaml"),
    check: bool = typer.Option(False, "--check", help="Write nothing; exit 1 if a generated file is missing or "
                                                      "differs from what this version writes"),
    package: Optional[str] = typer.Option(None, "--package", help="The requirement the workflows install, written "
                                                                  "to requirements.txt [default: "
                                                                  "opengovtech-hub==THIS VERSION]; e.g. "
                                                                  "'opengovtech-hub @ git+https://…@TAG'"),
) -> None:
    """Start a hub repository: sources.yaml (the hashtag sources and an example of every kind),
    aliases.yaml, a daily workflow publishing the hub to GitHub Pages, and the "Suggest a source"
    issue form with its workflow. Existing files are kept."""
    from pipelines.app.starter import init_hub

    try:
        report = init_hub(directory, force=force, check=check, package=package)
    except ConfigError as exc:
        _fail(f"invalid configuration:\n{exc}", EXIT_CONFIG)
    for path in report.written:
        out.print(f"wrote {directory / path}", highlight=False, soft_wrap=True)
    for path in report.kept:
        differs = " (differs from what this version writes: --force rewrites it)" if path in report.differing else ""
        out.print(f"kept  {directory / path}{differs}", highlight=False, soft_wrap=True)
    if check:
        for path in report.differing:
            out.print(f"differs or missing: {directory / path}", highlight=False, soft_wrap=True)
        raise typer.Exit(1 if report.differing else 0)
    if report.written:
        out.print("Next: check sources.yaml with `opengovtech sources validate`, push the repository to GitHub and "
                  "follow docs/deploy.md, \"GitHub Actions + Pages\", to turn on Pages and the labels.",
                  highlight=False, soft_wrap=True)


# --- suggest a source (GitHub Actions) --------------------------------------------------------

@app.command("suggest-source")
def suggest_source(
    event_path: Optional[Path] = typer.Option(None, "--event", help="The `issues` event payload "
                                                                    "[default: $GITHUB_EVENT_PATH]"),
    sources: Optional[Path] = SourcesOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the comment (and the new sources.yaml) "
                                                          "instead of writing to GitHub"),
) -> None:
    """Answer a "Suggest a source" issue: comment with what `opengovtech check` finds and the
    sources.yaml entry to add; when the add-source label is applied, open a pull request adding it.

    Run by the suggest-a-source workflow, with GITHUB_TOKEN, GITHUB_SHA and GITHUB_API_URL set.
    Exit status: 0 done (or nothing to do), 1 GitHub refused a write, 2 invalid event or configuration."""
    import os

    from pipelines.errors import GitHubWriteError
    from pipelines.app.suggest import handle_event, read_event

    path = event_path or (Path(os.environ["GITHUB_EVENT_PATH"]) if os.environ.get("GITHUB_EVENT_PATH") else None)
    if path is None:
        _fail("no event: pass --event FILE or set GITHUB_EVENT_PATH", EXIT_CONFIG)
    try:
        outcome = handle_event(read_event(path), resolve_sources_path(sources), dry_run=dry_run,
                               commit_sha=os.environ.get("GITHUB_SHA"), token=os.environ.get("GITHUB_TOKEN"))
    except GitHubWriteError as exc:
        _fail(str(exc), EXIT_UNEXPECTED)
    except ConfigError as exc:
        _fail(f"invalid configuration:\n{exc}", EXIT_CONFIG)
    except HubError as exc:
        _fail(str(exc), EXIT_CONFIG)
    if dry_run and outcome.comment:
        typer.echo(outcome.comment)
    if dry_run and outcome.sources_text:
        typer.echo(outcome.sources_text)
    out.print(outcome.done, highlight=False, soft_wrap=True, markup=False)


# --- sources ------------------------------------------------------------------------------

@sources_app.command("validate")
def sources_validate(path: Optional[Path] = typer.Argument(None, help="sources.yaml [default: $OPENGOVTECH_SOURCES or ./sources.yaml]")) -> None:
    """Check sources.yaml; every problem is printed as FILE:LINE source 'ID': what is wrong."""
    from pipelines.config import load_registry

    try:
        registry = load_registry(resolve_sources_path(path))
    except ConfigError as exc:
        _fail(f"invalid configuration:\n{exc}", EXIT_CONFIG)
    detail = ", ".join(f"{k}: {n}" for k, n in registry.count_by_kind().items())
    out.print(f"{registry.path}: {len(registry.sources)} sources OK ({detail}); "
              f"{len(registry.enabled())} enabled", highlight=False)


@sources_app.command("status")
def sources_status(
    sources: Optional[Path] = SourcesOption,
    warehouse: Optional[Path] = WarehouseOption,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array"),
) -> None:
    """Last run, status, error and consecutive failures of every source.

    Sources listed in sources.yaml that have not been harvested yet show as 'never run';
    sources harvested before but no longer listed are marked '(removed)'.
    """
    from pipelines.config import load_registry
    from pipelines.store.warehouse import open_for_reading

    try:
        configured = [s.id for s in load_registry(resolve_sources_path(sources)).sources]
    except ConfigError as exc:
        _fail(f"invalid configuration:\n{exc}", EXIT_CONFIG)
    warehouse_path = _warehouse_path(warehouse)
    rows: list[dict] = []
    if warehouse_path.exists():
        try:
            with open_for_reading(warehouse_path) as con:
                cursor = con.execute(
                    """SELECT h.source_id, s.active, strftime(h.last_run_at, '%Y-%m-%d %H:%M UTC') AS last_run,
                              h.status, h.http_status, h.consecutive_failures, h.items_seen,
                              strftime(h.last_success_at, '%Y-%m-%d %H:%M UTC') AS last_success,
                              strftime(h.next_attempt_at, '%Y-%m-%d %H:%M UTC') AS next_attempt, h.error, h.warning
                       FROM source_health h LEFT JOIN sources s USING (source_id)""")
                names = [d[0] for d in cursor.description]
                rows = [dict(zip(names, r)) for r in cursor.fetchall()]
        except HubError as exc:
            _fail(str(exc), EXIT_CONFIG)
    seen = {r["source_id"] for r in rows}
    rows += [{"source_id": sid, "active": True, "last_run": None, "status": "never run", "http_status": None,
              "consecutive_failures": 0, "items_seen": None, "last_success": None, "next_attempt": None,
              "error": None, "warning": None}
             for sid in configured if sid not in seen]
    rows.sort(key=lambda r: (r["status"] in SUCCEEDED_STATUSES, r["source_id"]))
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    table = Table()
    for column in ("source", "status", "last run", "http", "failures in a row", "next attempt", "items",
                   "error or warning"):
        table.add_column(column, overflow="fold", no_wrap=column in ("source", "status"))
    for r in rows:
        name = r["source_id"] + ("" if r["active"] in (True, None) else " (removed)")
        table.add_row(name, r["status"], r["last_run"] or "", str(r["http_status"] or ""),
                      str(r["consecutive_failures"]), r["next_attempt"] or "", str(r["items_seen"] or ""),
                      r["error"] or r["warning"] or "")
    out.print(table)


def main() -> None:
    try:
        app()
    finally:
        skip_collection_at_exit()


if __name__ == "__main__":
    main()
