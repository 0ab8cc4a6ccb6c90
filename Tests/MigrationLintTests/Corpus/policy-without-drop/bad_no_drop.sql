-- expect: 2:1
CREATE POLICY notes_read ON public.notes FOR SELECT TO authenticated
    USING (owner = auth.uid());
