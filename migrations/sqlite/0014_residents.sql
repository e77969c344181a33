-- Residents in control (issue 13): the consent ledger, the destinations that
-- must not be added back, text messages received, and reports tied to an
-- outage that was said to be restored.

-- Append-only: per contact, channel and purpose, consent given or withdrawn,
-- how (method and its detail: form version, file name, keyword, operator) and
-- from where (client address or phone number). Written in the transaction of
-- the change it records.
CREATE TABLE consent_events (
    id         INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    channel    TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    purpose    TEXT NOT NULL,
    action     TEXT NOT NULL CHECK (action IN ('given', 'withdrawn')),
    method     TEXT NOT NULL CHECK (method IN ('confirmation_link', 'import', 'sms_keyword',
                   'unsubscribe_link', 'one_click', 'operator', 'complaint')),
    detail     TEXT NOT NULL,
    source     TEXT,
    at         INTEGER NOT NULL
);
CREATE INDEX consent_events_contact ON consent_events (contact_id, id);
CREATE TRIGGER consent_events_append_only BEFORE UPDATE ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only');
END;

-- Destinations no import may add: a number that texted STOP (until it texts
-- START) and a person who deleted their data. A keyed hash of the destination
-- (purpose "suppressed destination"), never the destination itself.
CREATE TABLE suppressions (
    channel          TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    destination_hash TEXT NOT NULL,
    reason           TEXT NOT NULL CHECK (reason IN ('stopped', 'deleted')),
    at               INTEGER NOT NULL,
    PRIMARY KEY (channel, destination_hash)
);

-- Text messages received, as read, and the reply given (NULL: none, a limit
-- held it back). The sender is a keyed hash of the number (purpose
-- "sms sender"); the message's own text is not kept.
CREATE TABLE sms_inbound (
    id             INTEGER PRIMARY KEY,
    sender         TEXT NOT NULL,
    gateway        TEXT NOT NULL,
    keyword        TEXT NOT NULL,
    received_at    INTEGER NOT NULL,
    reply          TEXT,
    reply_language TEXT
);
CREATE INDEX sms_inbound_sender ON sms_inbound (sender, received_at);
CREATE INDEX sms_inbound_replied ON sms_inbound (received_at) WHERE reply IS NOT NULL;

-- A report made within a day after the outage covering the address was
-- restored: the supply is still out (restore verification).
ALTER TABLE reports ADD COLUMN still_out_of INTEGER REFERENCES outages (id);
-- Where it came from: the status page ('web') or a text message ('sms').
ALTER TABLE reports ADD COLUMN via TEXT NOT NULL DEFAULT 'web';
CREATE INDEX reports_still_out ON reports (still_out_of) WHERE still_out_of IS NOT NULL;
CREATE INDEX reports_outage ON reports (outage_id) WHERE outage_id IS NOT NULL;
