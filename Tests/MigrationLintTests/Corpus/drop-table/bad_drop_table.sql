-- expect: 2:1
DROP TABLE public.legacy_posts;
