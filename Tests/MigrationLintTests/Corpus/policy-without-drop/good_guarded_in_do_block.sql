DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE policyname = 'notes_read') THEN
        CREATE POLICY notes_read ON public.notes FOR SELECT USING (true);
        CREATE POLICY notes_write ON public.notes FOR UPDATE USING (true);
    END IF;
END
$$;
