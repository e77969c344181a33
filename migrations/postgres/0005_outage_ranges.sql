-- An outage's area as runs of consecutive address ids instead of a row per
-- address (see src/store/rows.rs `id_runs`): a storm over half a million
-- addresses is a few hundred rows to write, not half a million. The run that
-- starts at or before an address (primary key order) tells whether it is inside.
-- Few rows, so the foreign key to outages is back.
CREATE TABLE outage_ranges (
    outage_id BIGINT NOT NULL REFERENCES outages (id),
    first_id  BIGINT NOT NULL,
    last_id   BIGINT NOT NULL CHECK (last_id >= first_id),
    PRIMARY KEY (outage_id, first_id)
);

-- Gaps and islands: within a run, address id minus its rank is constant.
INSERT INTO outage_ranges (outage_id, first_id, last_id)
SELECT outage_id, MIN(address_id), MAX(address_id)
FROM (SELECT outage_id, address_id,
             address_id - ROW_NUMBER() OVER (PARTITION BY outage_id ORDER BY address_id) AS run
      FROM outage_addresses) runs
GROUP BY outage_id, run;

DROP TABLE outage_addresses;
