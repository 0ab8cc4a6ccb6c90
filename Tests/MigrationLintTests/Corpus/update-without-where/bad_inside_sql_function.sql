CREATE FUNCTION public.clear_bios() RETURNS void
LANGUAGE sql SECURITY INVOKER
-- expect: 4:7
AS $$ UPDATE public.profiles SET bio = '' $$;
