-- public.profiles was created by an earlier migration.
-- expect: 3:1 4:1
CREATE INDEX profiles_bio_idx ON public.profiles (bio);
CREATE UNIQUE INDEX IF NOT EXISTS profiles_phone_idx ON ONLY public.profiles USING btree (lower(bio));
