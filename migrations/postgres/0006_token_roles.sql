-- Tokens carry a role: `operator` (every token made before this migration, the
-- operator API) or `ivr` (the phone platform: answers keyed by a caller's
-- number and "press 2", nothing else). An optional expiry; the last use is
-- recorded at most once a minute per node, for `herald token list`.
ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'operator'
    CHECK (role IN ('operator', 'ivr'));
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE api_tokens ADD COLUMN last_used_at BIGINT;
CREATE INDEX api_tokens_name ON api_tokens (name) WHERE revoked_at IS NULL;

-- Keys every node of one deployment shares, created on first use: e.g. the key
-- that signs the "press 2" link inside an IVR answer, so the phone platform can
-- follow it on any node without a bearer header of its own.
CREATE TABLE server_keys (
    name   TEXT PRIMARY KEY,
    secret TEXT NOT NULL
);
