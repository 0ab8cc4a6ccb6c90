-- expect: 2:1 4:1
-- lint:allow duplicate-version reason: file-level rules cannot be allowed per statement
SELECT 1;
-- lint:allow reason: names nothing
SELECT 2;
