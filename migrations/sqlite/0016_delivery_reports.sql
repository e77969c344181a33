-- Delivery and bounce reports.
--
-- What the carrier said of a sent SMS (Kannel's dlr-url, Twilio's status
-- callback), or a bounce of a sent e-mail: the delivery stays 'sent' (it was
-- handed over) and is shown as 'delivered' or 'failed'.
ALTER TABLE deliveries ADD COLUMN receipt TEXT CHECK (receipt IN ('delivered', 'failed'));
ALTER TABLE deliveries ADD COLUMN receipt_reason TEXT;
ALTER TABLE deliveries ADD COLUMN receipt_at INTEGER;

-- An address that cannot receive (a permanent bounce, a 5xx refusal of the
-- recipient): nothing more goes to it until the resident confirms it again.
ALTER TABLE contacts ADD COLUMN undeliverable_at INTEGER;
ALTER TABLE contacts ADD COLUMN undeliverable_reason TEXT;

-- The ledger also records that an address became undeliverable (a bounce).
-- SQLite cannot change a CHECK constraint: the table is rebuilt, ids kept.
CREATE TABLE consent_events_new (
    id         INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    channel    TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    purpose    TEXT NOT NULL,
    action     TEXT NOT NULL CHECK (action IN ('given', 'withdrawn', 'undeliverable')),
    method     TEXT NOT NULL CHECK (method IN ('confirmation_link', 'import', 'sms_keyword',
                   'unsubscribe_link', 'one_click', 'operator', 'complaint', 'bounce')),
    detail     TEXT NOT NULL,
    source     TEXT,
    at         INTEGER NOT NULL
);
INSERT INTO consent_events_new (id, contact_id, channel, purpose, action, method, detail, source, at)
    SELECT id, contact_id, channel, purpose, action, method, detail, source, at FROM consent_events;
DROP TABLE consent_events;
ALTER TABLE consent_events_new RENAME TO consent_events;
CREATE INDEX consent_events_contact ON consent_events (contact_id, id);
CREATE TRIGGER consent_events_append_only BEFORE UPDATE ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only');
END;
