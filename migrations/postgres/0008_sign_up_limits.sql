-- Limits on the public sign-up form (issue 10, item 2). Requests are counted
-- per destination as its inbox or phone (`destination_key`: case and +tags
-- ignored), per client (`client_key`: a keyed hash of the client's address,
-- never the address itself) and, for SMS, for everybody together per hour.
ALTER TABLE subscriptions ADD COLUMN destination_key TEXT;
ALTER TABLE subscriptions ADD COLUMN client_key TEXT;
UPDATE subscriptions SET destination_key = lower(destination);
CREATE INDEX subscriptions_destination_key ON subscriptions (destination_key, created_at);
CREATE INDEX subscriptions_client_key ON subscriptions (client_key, created_at);
CREATE INDEX subscriptions_channel_created ON subscriptions (channel, created_at);
