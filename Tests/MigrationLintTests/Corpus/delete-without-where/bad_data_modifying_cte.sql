-- expect: 2:1
WITH gone AS (DELETE FROM public.sessions RETURNING id)
SELECT count(*) FROM gone WHERE id IS NOT NULL;
