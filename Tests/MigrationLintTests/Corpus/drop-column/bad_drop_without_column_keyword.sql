-- Two DROPs in one ALTER TABLE, one without the COLUMN keyword: one finding per column.
-- expect: 3:1 3:1
ALTER TABLE ONLY public.profiles ADD COLUMN nickname text, DROP IF EXISTS legacy_a, DROP COLUMN legacy_b CASCADE;
