SELECT 1;
-- expect: 3:15
SELECT 'abc', 'never closed;
DROP TABLE x;
