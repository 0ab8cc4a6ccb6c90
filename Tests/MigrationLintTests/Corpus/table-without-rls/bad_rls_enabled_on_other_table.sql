-- expect: 2:1
CREATE TABLE public.notes (id bigint PRIMARY KEY);
CREATE TABLE public.tags (id bigint PRIMARY KEY);
ALTER TABLE public.tags ENABLE ROW LEVEL SECURITY;
-- ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
