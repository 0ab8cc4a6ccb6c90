-- expect: 2:1
DELETE FROM public.follows f USING (SELECT id FROM public.profiles WHERE is_private) p;
