-- Herald schema (SQLite). Instants are INTEGER milliseconds since the epoch, bound
-- from Rust's clock; enums are TEXT with CHECK constraints matching src/domain.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
-- Bumped by every address import, so every node knows when to rebuild its index.
INSERT INTO meta (key, value) VALUES ('addresses_version', 0);

CREATE TABLE addresses (
    id           INTEGER PRIMARY KEY,
    external_id  TEXT NOT NULL UNIQUE,
    street       TEXT NOT NULL,
    house_number TEXT NOT NULL,
    postcode     TEXT NOT NULL,
    settlement   TEXT NOT NULL,
    lon          REAL NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat          REAL NOT NULL CHECK (lat BETWEEN -90 AND 90),
    -- bit mask of utilities served (src/domain/outage.rs Utility::bit); 0 = all
    utilities    INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX addresses_postcode ON addresses (postcode);

CREATE TABLE contacts (
    id                INTEGER PRIMARY KEY,
    address_id        INTEGER NOT NULL REFERENCES addresses (id),
    channel           TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    destination       TEXT NOT NULL,
    language          TEXT NOT NULL CHECK (language IN ('hu', 'pl', 'en')),
    -- consent: once set, no import clears it (only the resident can)
    opted_out_at      INTEGER,
    unsubscribe_token TEXT NOT NULL UNIQUE,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (address_id, channel, destination)
);
CREATE INDEX contacts_destination ON contacts (destination);

CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE outages (
    id                 INTEGER PRIMARY KEY,
    reference          TEXT NOT NULL UNIQUE,
    utility            TEXT NOT NULL CHECK (utility IN ('power', 'water', 'gas', 'telecom', 'heating', 'sewer')),
    kind               TEXT NOT NULL CHECK (kind IN ('unplanned', 'planned')),
    status             TEXT NOT NULL CHECK (status IN ('scheduled', 'active', 'restored', 'cancelled')),
    urgency            TEXT NOT NULL CHECK (urgency IN ('normal', 'urgent')),
    revision           INTEGER NOT NULL,
    cause              TEXT NOT NULL,
    etr                INTEGER,
    starts_at          INTEGER,
    area               TEXT NOT NULL,
    messages           TEXT NOT NULL,
    affected_addresses INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    ended_at           INTEGER
);
CREATE INDEX outages_status ON outages (status, utility);

-- Every change is a revision; the outages row is a copy of the latest one.
CREATE TABLE outage_revisions (
    outage_id          INTEGER NOT NULL REFERENCES outages (id),
    revision           INTEGER NOT NULL,
    change             TEXT NOT NULL CHECK (change IN ('declared', 'updated', 'started', 'restored', 'cancelled')),
    changed_fields     TEXT NOT NULL,
    status             TEXT NOT NULL,
    cause              TEXT NOT NULL,
    etr                INTEGER,
    starts_at          INTEGER,
    area               TEXT NOT NULL,
    messages           TEXT NOT NULL,
    affected_addresses INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    PRIMARY KEY (outage_id, revision)
);

-- The addresses inside the current area.
CREATE TABLE outage_addresses (
    outage_id  INTEGER NOT NULL REFERENCES outages (id),
    address_id INTEGER NOT NULL REFERENCES addresses (id),
    PRIMARY KEY (outage_id, address_id)
) WITHOUT ROWID;
CREATE INDEX outage_addresses_address ON outage_addresses (address_id);

CREATE TABLE deliveries (
    id                  INTEGER PRIMARY KEY,
    outage_id           INTEGER NOT NULL REFERENCES outages (id),
    revision            INTEGER NOT NULL,
    kind                TEXT NOT NULL CHECK (kind IN ('declared', 'updated', 'restored', 'cancelled', 'withdrawn', 'requested')),
    contact_id          INTEGER NOT NULL REFERENCES contacts (id),
    channel             TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    state               TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'dead', 'suppressed', 'superseded', 'expired')),
    urgent              INTEGER NOT NULL,
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     INTEGER NOT NULL,
    lease_until         INTEGER,
    expires_at          INTEGER NOT NULL,
    sent_revision       INTEGER,
    provider_message_id TEXT,
    segments            INTEGER,
    last_error          TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    -- one message per (outage, revision, kind, contact): re-running a fan-out adds nothing
    UNIQUE (outage_id, revision, kind, contact_id)
);
CREATE INDEX deliveries_due ON deliveries (channel, next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE state = 'sending';
CREATE INDEX deliveries_outage_contact ON deliveries (outage_id, contact_id, state);

CREATE TABLE idempotency_keys (
    token_id     INTEGER NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    -- written in the declare transaction, so a retry can never make a second outage
    outage_id    INTEGER NOT NULL REFERENCES outages (id),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (token_id, key)
);
