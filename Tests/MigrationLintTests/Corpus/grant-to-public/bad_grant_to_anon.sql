-- expect: 2:1 3:1
GRANT SELECT, INSERT ON TABLE public.profiles TO authenticated, anon;
GRANT SELECT (id, username) ON public.profiles TO "anon" WITH GRANT OPTION;
