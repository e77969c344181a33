-- Provider rate limits shared by every worker process on this database: one
-- token bucket per channel. A worker takes a handful of tokens in a short
-- transaction before sending that many messages, so the configured rate holds
-- for the sum of all workers, not for each.
CREATE TABLE rate_limits (
    bucket      TEXT PRIMARY KEY,
    tokens      REAL NOT NULL,
    -- milliseconds since the epoch, wall clock
    refilled_at INTEGER NOT NULL
);
