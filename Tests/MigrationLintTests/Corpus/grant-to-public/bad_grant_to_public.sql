-- expect: 2:1
GRANT SELECT ON public.profiles TO PUBLIC;
