-- expect: 2:1
DELETE FROM public.sessions;
