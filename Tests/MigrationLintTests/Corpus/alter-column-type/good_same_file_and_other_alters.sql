CREATE TABLE internal.jobs (id bigint PRIMARY KEY, payload json);
ALTER TABLE internal.jobs ALTER COLUMN payload TYPE jsonb;
ALTER TABLE public.profiles ALTER COLUMN bio SET DEFAULT '', ALTER COLUMN bio SET STATISTICS 100;
