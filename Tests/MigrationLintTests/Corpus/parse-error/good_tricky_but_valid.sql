SELECT E'\\', E'\'', 'it''s', U&'d\0061t\+000061', B'1010', X'1F', N'x';
SELECT "a""b", U&"d\0061t" FROM (SELECT 1 AS "a""b", 2 AS "dat") s;
SELECT $1::text, foo$bar FROM (SELECT 1 AS foo$bar) s WHERE 1 <> 2 AND 3 >= 2 -- trailing
;
/* a /* nested */ comment */ SELECT 1/2, 2*-3, 'x' || $a$b$a$;
