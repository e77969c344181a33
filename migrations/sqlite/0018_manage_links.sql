-- The confirmation queue also carries manage links a resident asked for on
-- the status page (`/manage`): the same per-destination, per-client and SMS
-- limits count both, since either sends a message anyone can ask for.
-- A manage-link row names the contact its link opens and never confirms a
-- subscription.
ALTER TABLE subscriptions ADD COLUMN purpose TEXT NOT NULL DEFAULT 'sign_up'
    CHECK (purpose IN ('sign_up', 'manage_link'));
