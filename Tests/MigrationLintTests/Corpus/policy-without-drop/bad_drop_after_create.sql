-- expect: 2:1
CREATE POLICY notes_read ON public.notes FOR SELECT USING (true);
DROP POLICY IF EXISTS notes_read ON public.notes;
