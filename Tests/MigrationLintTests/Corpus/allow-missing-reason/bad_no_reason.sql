-- expect: 2:1
-- lint:allow drop-table
DROP TABLE public.legacy_posts;
