INSERT INTO public.counters (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = public.counters.n + 1;
SELECT id FROM public.jobs ORDER BY id FOR UPDATE SKIP LOCKED;
SELECT id FROM public.jobs FOR NO KEY UPDATE OF jobs;
GRANT UPDATE (status) ON public.follows TO authenticated;
CREATE TRIGGER t BEFORE UPDATE OF status ON public.follows FOR EACH ROW EXECUTE FUNCTION public.f();
