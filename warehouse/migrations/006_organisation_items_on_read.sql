-- An organisation's item ids are gathered from items when hub_organisations is read, not stored
-- in its row: one stored list per organisation grows with the hub (seven organisations of
-- ~140,000 items each at 1,000,000 entries), and making them needed more memory than the rest
-- of the build. Readers that do not select item_ids do not pay for them.
ALTER TABLE organisations DROP COLUMN item_ids;

CREATE OR REPLACE VIEW hub_organisations AS
SELECT o.name, o.slug, o.homepage, o.logo_url, o.aliases, coalesce(i.items, 0) AS items,
       coalesce(i.item_ids, []) AS item_ids, o.source_ids, o.origins
FROM organisations o
LEFT JOIN (SELECT organisation AS name, count(*) AS items, list(id ORDER BY id) AS item_ids
           FROM items WHERE organisation IS NOT NULL GROUP BY organisation) i USING (name)
ORDER BY lower(o.name);
