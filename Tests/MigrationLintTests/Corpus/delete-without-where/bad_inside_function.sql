CREATE FUNCTION public.reset_sessions() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $fn$
BEGIN
    -- expect: 7:9
    IF true THEN
        DELETE FROM public.sessions;
    END IF;
END
$fn$;
