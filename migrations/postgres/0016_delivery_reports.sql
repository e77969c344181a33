-- Delivery and bounce reports.
--
-- What the carrier said of a sent SMS (Kannel's dlr-url, Twilio's status
-- callback), or a bounce of a sent e-mail: the delivery stays 'sent' (it was
-- handed over) and is shown as 'delivered' or 'failed'.
ALTER TABLE deliveries ADD COLUMN receipt TEXT CHECK (receipt IN ('delivered', 'failed'));
ALTER TABLE deliveries ADD COLUMN receipt_reason TEXT;
ALTER TABLE deliveries ADD COLUMN receipt_at BIGINT;

-- An address that cannot receive (a permanent bounce, a 5xx refusal of the
-- recipient): nothing more goes to it until the resident confirms it again.
ALTER TABLE contacts ADD COLUMN undeliverable_at BIGINT;
ALTER TABLE contacts ADD COLUMN undeliverable_reason TEXT;

-- The ledger also records that an address became undeliverable (a bounce).
ALTER TABLE consent_events DROP CONSTRAINT consent_events_action_check,
    ADD CONSTRAINT consent_events_action_check
        CHECK (action IN ('given', 'withdrawn', 'undeliverable'));
ALTER TABLE consent_events DROP CONSTRAINT consent_events_method_check,
    ADD CONSTRAINT consent_events_method_check
        CHECK (method IN ('confirmation_link', 'import', 'sms_keyword', 'unsubscribe_link',
            'one_click', 'operator', 'complaint', 'bounce'));
