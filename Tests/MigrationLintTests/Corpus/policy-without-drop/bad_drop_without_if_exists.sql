DROP POLICY notes_read ON public.notes;
-- expect: 3:1
CREATE POLICY notes_read ON public.notes FOR SELECT USING (true);
