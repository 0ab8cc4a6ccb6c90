-- One marker may name several rules of the statement below it.
-- lint:allow drop-column, alter-column-type reason: the column pair was unused and the new type needs no rewrite
ALTER TABLE public.profiles DROP COLUMN legacy_a, ALTER COLUMN bio TYPE text;
