-- The manage page: which services a contact wants alerts about, as a mask of
-- utility bits (crate::domain::Utility::bit); NULL: all.
ALTER TABLE contacts ADD COLUMN utilities INTEGER;
