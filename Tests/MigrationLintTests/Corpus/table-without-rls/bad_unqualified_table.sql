-- Unqualified names land in public.
-- expect: 3:1
CREATE TABLE IF NOT EXISTS notes (id bigint PRIMARY KEY);
