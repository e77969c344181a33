-- A declaration from the console holds its messages for the undo window:
-- until this instant it can be called off before anyone is told. NULL for
-- outages declared otherwise (their messages go at once).
ALTER TABLE outages ADD COLUMN held_until BIGINT;
