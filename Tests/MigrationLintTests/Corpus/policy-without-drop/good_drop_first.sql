DROP POLICY IF EXISTS notes_read ON public.notes;
CREATE POLICY notes_read ON public.notes FOR SELECT TO authenticated
    USING (owner = auth.uid());
DROP POLICY IF EXISTS "Notes: owner writes" ON notes;
CREATE POLICY "Notes: owner writes" ON public.notes FOR UPDATE USING (owner = auth.uid());
