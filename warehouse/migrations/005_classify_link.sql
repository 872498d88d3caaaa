-- Normalise, classify and link: per-entry facts computed from raw_entries (so `opengovtech
-- rebuild` redoes them without refetching), why items were merged and classified, projects
-- grouping a story with its techniques and assets, organisations, and link checks.

CREATE TABLE entry_facts (
    source_id      VARCHAR NOT NULL,
    entry_key      VARCHAR NOT NULL,
    raw_changed_at TIMESTAMPTZ NOT NULL,   -- raw_entries.changed_at these facts were computed from
    config_hash    VARCHAR NOT NULL,       -- the source's config, the aliases and the rules' version
    item_key       VARCHAR NOT NULL,       -- item id before near-duplicate merging
    canonical_url  VARCHAR,
    title          VARCHAR,
    summary        VARCHAR,
    content_text   VARCHAR,
    content_html   VARCHAR,
    author         VARCHAR,
    organisation   VARCHAR,
    language       VARCHAR,
    kind           VARCHAR NOT NULL,
    asset_type     VARCHAR,
    kind_score     DOUBLE,
    kind_reasons   VARCHAR[],
    merge_note     VARCHAR,                -- why this entry belongs to its item, when not obvious
    link_keys      VARCHAR[],              -- item ids of the pages this entry links to
    repo_links     VARCHAR[],              -- owner/name of GitHub repositories it links to
    PRIMARY KEY (source_id, entry_key)
);

-- Near-duplicates (a cross-post with the same text) merged into the original's item.
CREATE TABLE item_merges (
    item_key  VARCHAR PRIMARY KEY,
    into_key  VARCHAR NOT NULL,
    reason    VARCHAR NOT NULL
);

ALTER TABLE items ADD COLUMN kind_reasons VARCHAR[];
ALTER TABLE items ADD COLUMN merge_reasons VARCHAR[];

-- Which items link to which (a story to its repo, a repo's homepage back to the story).
CREATE TABLE item_links (
    from_id  VARCHAR NOT NULL,
    to_id    VARCHAR NOT NULL,
    reason   VARCHAR NOT NULL
);

CREATE TABLE item_relations (
    id           VARCHAR PRIMARY KEY,
    project_id   VARCHAR,
    related_ids  VARCHAR[]
);

CREATE TABLE projects (
    project_id     VARCHAR PRIMARY KEY,
    title          VARCHAR NOT NULL,
    url            VARCHAR,
    organisation   VARCHAR,
    story_ids      VARCHAR[],
    technique_ids  VARCHAR[],
    asset_ids      VARCHAR[],
    other_ids      VARCHAR[],
    reasons        VARCHAR[]
);

CREATE TABLE organisations (
    name        VARCHAR PRIMARY KEY,
    slug        VARCHAR,
    homepage    VARCHAR,
    logo_url    VARCHAR,
    aliases     VARCHAR[],
    item_ids    VARCHAR[],
    source_ids  VARCHAR[],
    origins     VARCHAR[]      -- where the organisation was found: sources.yaml, _contributors, items
);

-- One row per URL checked: never deleted, so a broken link stays marked until it works again.
CREATE TABLE link_checks (
    url          VARCHAR PRIMARY KEY,
    status       INTEGER,            -- HTTP status of the last check (NULL: no response)
    ok           BOOLEAN,
    error        VARCHAR,
    method       VARCHAR,            -- HEAD, or GET when HEAD was refused
    final_url    VARCHAR,
    checked_at   TIMESTAMPTZ NOT NULL,
    broken_since TIMESTAMPTZ
);

CREATE OR REPLACE VIEW hub_items AS
SELECT i.id, i.kind, i.title, i.url, i.summary, i.content_text, i.author, i.organisation, i.published_at,
       i.updated_at, i.tags, i.source_ids, i.match_reasons, i.first_seen_at, i.last_seen_at, i.date_missing,
       i.language, i.content_html, i.asset_type, i.details, i.mentions, i.kind_reasons, i.merge_reasons,
       r.project_id, coalesce(r.related_ids, []) AS related_ids,
       c.status AS link_status, c.ok AS link_ok, c.checked_at AS link_checked_at
FROM items i
LEFT JOIN item_relations r ON r.id = i.id
LEFT JOIN link_checks c ON c.url = i.url;

CREATE OR REPLACE VIEW hub_projects AS
SELECT project_id, title, url, organisation, story_ids, technique_ids, asset_ids, other_ids, reasons,
       len(story_ids) + len(technique_ids) + len(asset_ids) + len(other_ids) AS items
FROM projects;

CREATE OR REPLACE VIEW hub_organisations AS
SELECT name, slug, homepage, logo_url, aliases, len(item_ids) AS items, item_ids, source_ids, origins
FROM organisations;
