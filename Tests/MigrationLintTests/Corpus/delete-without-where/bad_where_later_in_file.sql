-- A WHERE further down the file does not excuse the DELETE above it.
-- expect: 3:1
DELETE FROM public.sessions;
UPDATE public.profiles SET bio = '' WHERE bio IS NULL;
