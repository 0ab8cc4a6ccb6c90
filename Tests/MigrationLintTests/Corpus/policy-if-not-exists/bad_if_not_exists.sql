DROP POLICY IF EXISTS notes_read ON public.notes;
-- expect: 3:1
CREATE POLICY IF NOT EXISTS notes_read ON public.notes FOR SELECT USING (true);
