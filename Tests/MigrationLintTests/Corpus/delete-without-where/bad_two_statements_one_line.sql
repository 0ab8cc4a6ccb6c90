-- expect: 2:36
DELETE FROM public.a WHERE id = 1; DELETE FROM public.b;
