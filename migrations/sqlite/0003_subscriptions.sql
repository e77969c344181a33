-- Residents subscribing on the status page, with double opt-in: a request waits
-- here, its confirmation message goes out (with the same lease/retry columns as
-- deliveries), and only following the link makes the resident a contact. So a
-- stranger cannot sign somebody else up, and consent is on record (confirmed_at).
CREATE TABLE subscriptions (
    id              INTEGER PRIMARY KEY,
    token           TEXT NOT NULL UNIQUE,
    address_id      INTEGER NOT NULL REFERENCES addresses (id),
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    destination     TEXT NOT NULL,
    language        TEXT NOT NULL CHECK (language IN ('hu', 'pl', 'en')),
    -- the confirmation message
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'dead', 'expired')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    -- the link stops working after this
    expires_at      INTEGER NOT NULL,
    confirmed_at    INTEGER,
    contact_id      INTEGER REFERENCES contacts (id),
    created_at      INTEGER NOT NULL
);
CREATE INDEX subscriptions_due ON subscriptions (next_attempt_at) WHERE state = 'pending';
CREATE INDEX subscriptions_leased ON subscriptions (lease_until) WHERE state = 'sending';
CREATE INDEX subscriptions_destination ON subscriptions (destination, created_at);
