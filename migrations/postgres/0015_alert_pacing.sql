-- Contact windows and alert pacing.
--
-- A contact's window: minutes after local midnight, in the contact's own
-- time zone (an IANA name) or else the utility's. NULL: any time. The end may
-- be 1440, and an end before the start wraps past midnight.
ALTER TABLE contacts ADD COLUMN window_start BIGINT;
ALTER TABLE contacts ADD COLUMN window_end BIGINT;
ALTER TABLE contacts ADD COLUMN time_zone TEXT;

-- A pending delivery held for the contact's window or the daily cap of
-- updates: when it goes (the API shows it as 'deferred').
ALTER TABLE deliveries ADD COLUMN held_until BIGINT;
-- When a sent delivery went out (updated_at moves with later reports).
ALTER TABLE deliveries ADD COLUMN sent_at BIGINT;
