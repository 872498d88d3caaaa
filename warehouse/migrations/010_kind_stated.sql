-- Whether an entry's kind is stated (sources.yaml item_kind, a repository, a Jekyll collection, an
-- #OpenGovTech<Kind> tag) rather than read by the kind model: such a record represents its item.
ALTER TABLE entry_facts ADD COLUMN kind_stated BOOLEAN;
