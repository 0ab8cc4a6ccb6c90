-- Nobody has read this column since release 12.
-- lint:allow drop-column reason: unused since release 12, see issue 41
ALTER TABLE public.profiles DROP COLUMN legacy_avatar;
