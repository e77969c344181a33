-- The published state: every outage change bumps the version, so status pages
-- and IVR answers can be cached per version and validated with ETags.
INSERT INTO meta (key, value) VALUES ('outages_version', 0);
INSERT INTO meta (key, value) VALUES ('outages_changed_at', 0);
