DROP POLICY IF EXISTS notes_read ON public.tags;
-- expect: 3:1
CREATE POLICY notes_read ON public.notes FOR SELECT USING (true);
