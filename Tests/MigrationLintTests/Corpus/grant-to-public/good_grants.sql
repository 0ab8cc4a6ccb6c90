GRANT SELECT ON public.profiles TO authenticated;
GRANT USAGE ON SCHEMA public TO anon, authenticated;
GRANT EXECUTE ON FUNCTION public.add_one(integer) TO anon;
GRANT USAGE ON SEQUENCE public.notes_id_seq TO anon;
GRANT anon, authenticated TO CURRENT_USER;
REVOKE ALL ON public.profiles FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO anon;
