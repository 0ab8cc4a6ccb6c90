-- Setting search_path inside the body is too late: the function options must fix it.
-- expect: 3:1
CREATE PROCEDURE public.purge() LANGUAGE plpgsql SECURITY DEFINER
AS $$
BEGIN
    SET search_path = '';
    DELETE FROM public.sessions WHERE revoked_at IS NOT NULL;
END $$;
