-- Residents' "no supply at my address" reports, from the status page. The
-- client is a keyed hash of its address (for limits only); outage_id is the
-- open outage that covered the address for that utility when it was made,
-- if any (reports outside every outage tell the dispatcher the area is
-- probably bigger than drawn).
CREATE TABLE reports (
    id          INTEGER PRIMARY KEY,
    address_id  INTEGER NOT NULL REFERENCES addresses (id),
    utility     TEXT NOT NULL,
    reported_at BIGINT NOT NULL,
    client_key  TEXT NOT NULL,
    outage_id   INTEGER REFERENCES outages (id)
);
CREATE INDEX reports_at ON reports (reported_at);
CREATE INDEX reports_client ON reports (client_key, reported_at);
CREATE INDEX reports_address ON reports (address_id, utility, reported_at);
