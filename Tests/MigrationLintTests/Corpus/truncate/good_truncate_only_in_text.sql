-- TRUNCATE public.sessions;
SELECT 'TRUNCATE public.sessions;';
DELETE FROM public.sessions WHERE revoked_at < now() - interval '30 days';
