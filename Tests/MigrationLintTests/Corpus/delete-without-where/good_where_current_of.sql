DO $$
DECLARE
    c CURSOR FOR SELECT id FROM public.sessions;
BEGIN
    FOR r IN c LOOP
        DELETE FROM public.sessions WHERE CURRENT OF c;
    END LOOP;
END $$;
