-- expect: 2:1
SELECT (1 + 2;
SELECT 3;
