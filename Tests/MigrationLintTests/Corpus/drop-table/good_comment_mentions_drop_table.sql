-- This migration used to DROP TABLE public.posts; it no longer does.
/* DROP TABLE public.posts; /* nested: DROP TABLE x; */ still a comment; DROP TABLE y; */
SELECT 'DROP TABLE public.posts;' AS not_a_statement, $$ DROP TABLE z; $$ AS neither;
SELECT "DROP TABLE t;" FROM (SELECT 1 AS "DROP TABLE t;") s;
