-- A blank line separates the marker from the statement, so it silences nothing.
-- expect: 5:1
-- lint:allow drop-table reason: the table was replaced in 0007

DROP TABLE public.legacy_posts;
