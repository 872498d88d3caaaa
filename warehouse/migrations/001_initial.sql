-- The foundation schema: raw records per source, the items built from them, and the
-- harvest bookkeeping (health, per-run counts, HTTP validators).

CREATE TABLE sources (
    source_id    VARCHAR PRIMARY KEY,
    kind         VARCHAR NOT NULL,
    url          VARCHAR,
    org          VARCHAR,
    tagged_only  BOOLEAN,
    config_json  VARCHAR,
    line         INTEGER,
    active       BOOLEAN NOT NULL DEFAULT TRUE,   -- still listed in sources.yaml
    updated_at   TIMESTAMPTZ
);

-- One row per entry of one source; raw_json keeps the entry as the source gave it.
CREATE TABLE raw_entries (
    source_id      VARCHAR NOT NULL,
    entry_key      VARCHAR NOT NULL,
    item_id        VARCHAR NOT NULL,
    url            VARCHAR,
    canonical_url  VARCHAR,
    title          VARCHAR,
    summary        VARCHAR,
    content_html   VARCHAR,
    content_text   VARCHAR,
    author         VARCHAR,
    published_at   TIMESTAMPTZ,
    updated_at     TIMESTAMPTZ,
    date_missing   BOOLEAN,
    tags           VARCHAR[],
    match_reasons  VARCHAR[],
    matched        BOOLEAN,
    language       VARCHAR,
    raw_json       VARCHAR,
    content_hash   VARCHAR,
    first_seen_at  TIMESTAMPTZ NOT NULL,
    last_seen_at   TIMESTAMPTZ NOT NULL,
    changed_at     TIMESTAMPTZ NOT NULL,
    last_run_id    VARCHAR,
    PRIMARY KEY (source_id, entry_key)
);

CREATE TABLE items (
    id             VARCHAR PRIMARY KEY,
    kind           VARCHAR NOT NULL,
    title          VARCHAR NOT NULL,
    url            VARCHAR,
    summary        VARCHAR,
    content_html   VARCHAR,
    content_text   VARCHAR,
    author         VARCHAR,
    organisation   VARCHAR,
    published_at   TIMESTAMPTZ,
    date_missing   BOOLEAN,
    updated_at     TIMESTAMPTZ,
    language       VARCHAR,
    tags           VARCHAR[],
    source_ids     VARCHAR[],
    match_reasons  VARCHAR[],
    first_seen_at  TIMESTAMPTZ,
    last_seen_at   TIMESTAMPTZ
);

-- The public contract read by search, the site and anyone with a DuckDB client.
CREATE VIEW hub_items AS
SELECT id, kind, title, url, summary, content_text, author, organisation, published_at, updated_at,
       tags, source_ids, match_reasons, first_seen_at, last_seen_at, date_missing, language, content_html
FROM items;

CREATE TABLE source_health (
    source_id             VARCHAR PRIMARY KEY,
    last_run_at           TIMESTAMPTZ,
    last_run_id           VARCHAR,
    status                VARCHAR,      -- ok | not_modified | failed | blocked | deferred
    http_status           INTEGER,
    error                 VARCHAR,
    warning               VARCHAR,      -- a problem that did not stop the harvest (e.g. no entries)
    items_seen            INTEGER,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    last_success_at       TIMESTAMPTZ,
    feed_url              VARCHAR       -- the feed actually read (after autodiscovery)
);

CREATE TABLE source_runs (
    run_id        VARCHAR NOT NULL,
    source_id     VARCHAR NOT NULL,
    finished_at   TIMESTAMPTZ,
    status        VARCHAR,
    http_status   INTEGER,
    error         VARCHAR,
    warning       VARCHAR,
    entries_read  INTEGER,
    new           INTEGER,
    updated       INTEGER,
    unchanged     INTEGER,
    requests      INTEGER,
    bytes         BIGINT,
    duration_s    DOUBLE,
    PRIMARY KEY (run_id, source_id)
);

-- Validators for conditional GET, per URL actually fetched.
CREATE TABLE http_cache (
    url            VARCHAR PRIMARY KEY,
    etag           VARCHAR,
    last_modified  VARCHAR,
    updated_at     TIMESTAMPTZ
);

CREATE TABLE pipeline_state (
    key    VARCHAR PRIMARY KEY,
    value  VARCHAR
);
