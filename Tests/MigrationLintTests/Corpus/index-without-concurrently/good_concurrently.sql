CREATE INDEX CONCURRENTLY profiles_bio_idx ON public.profiles (bio);
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS profiles_x_idx ON public.profiles (bio);
