-- expect: 2:1
-- lint:allow drop-tabel reason: typo in the rule id
DROP TABLE public.legacy_posts;
