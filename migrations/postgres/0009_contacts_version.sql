-- Bumped whenever contacts change in a way a caller lookup sees (an import, a
-- confirmed subscription, an opt-out), so every node rebuilds its in-memory
-- caller map, as `addresses_version` does for the address indexes.
INSERT INTO meta (key, value) VALUES ('contacts_version', 0);
