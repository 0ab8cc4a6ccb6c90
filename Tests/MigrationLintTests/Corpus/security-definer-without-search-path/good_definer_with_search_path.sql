CREATE FUNCTION public.my_phone() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT phone FROM auth.users WHERE id = auth.uid() $$;
CREATE FUNCTION public.other() RETURNS text
SECURITY DEFINER SET search_path TO pg_catalog, public LANGUAGE sql
AS 'SELECT ''x''';
