-- expect: 2:1
ALTER TABLE public.profiles DROP COLUMN legacy_avatar;
