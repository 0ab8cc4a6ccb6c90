-- lint:allow table-without-rls reason: read-only reference data, granted SELECT only
CREATE TABLE public.countries (code text PRIMARY KEY);
