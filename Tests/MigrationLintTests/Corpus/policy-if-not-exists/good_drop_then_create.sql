DROP POLICY IF EXISTS notes_read ON public.notes;
CREATE POLICY notes_read ON public.notes FOR SELECT USING (true);
