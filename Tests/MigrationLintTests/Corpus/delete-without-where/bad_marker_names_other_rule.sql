-- expect: 3:1
-- lint:allow truncate reason: the marker must name the rule that fires
DELETE FROM public.sessions;
