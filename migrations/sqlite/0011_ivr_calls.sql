-- Who called before being told: one row per IVR status request by phone and
-- outage the caller heard about. The caller is a keyed hash of the number (the
-- deployment's signing key, purpose "ivr-caller"), never the number itself.
-- told_at is when the number was first sent a message about the outage, if
-- that was before the call (read from the deliveries when the row is written).
CREATE TABLE ivr_calls (
    id        INTEGER PRIMARY KEY,
    outage_id INTEGER NOT NULL REFERENCES outages (id),
    caller    TEXT NOT NULL,
    called_at BIGINT NOT NULL,
    told_at   BIGINT
);
CREATE INDEX ivr_calls_outage ON ivr_calls (outage_id, caller);
CREATE INDEX ivr_calls_called_at ON ivr_calls (called_at);
