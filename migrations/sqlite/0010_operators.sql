-- Operator accounts for the dispatcher console (issue 12, item 1). A password
-- is stored only as its argon2 hash (PHC string). Disabled accounts stay, so
-- the audit log keeps naming who did what.
CREATE TABLE operators (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'dispatcher', 'supervisor')),
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    disabled_at   INTEGER
);

-- Server-side sessions: the cookie carries a random id, the table only its
-- SHA-256. `seen_at` (idle expiry) is written at most once a minute.
CREATE TABLE sessions (
    id_hash     TEXT PRIMARY KEY,
    operator_id INTEGER NOT NULL REFERENCES operators (id),
    csrf        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    seen_at     INTEGER NOT NULL
);
CREATE INDEX sessions_operator ON sessions (operator_id);

-- Failed sign-ins, per account (`account:<username>`, known or not, so a
-- lock-out tells nothing about which names exist) and per client
-- (`client:<keyed hash of the address>`), for lock-out with back-off.
CREATE TABLE sign_in_failures (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    last_at      INTEGER NOT NULL,
    locked_until INTEGER NOT NULL
);

-- A token may belong to an operator and then acts with that operator's role,
-- and stops working when the operator is disabled. Tokens without one keep
-- their own role (`operator` or `ivr`), as before.
ALTER TABLE api_tokens ADD COLUMN operator_id INTEGER REFERENCES operators (id);

-- Append-only: who (an operator, a token, or the command line), when, what,
-- from which client address. Nothing updates or deletes these rows.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    operator_id INTEGER REFERENCES operators (id),
    token_id    INTEGER REFERENCES api_tokens (id),
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject     TEXT,
    details     TEXT NOT NULL,
    client      TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
