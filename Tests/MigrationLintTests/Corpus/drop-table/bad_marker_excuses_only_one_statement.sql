-- expect: 5:1
-- lint:allow drop-table reason: replaced by public.posts_v2 in 0007, unused since release 14
DROP TABLE public.legacy_posts;

DROP TABLE public.other_posts;
