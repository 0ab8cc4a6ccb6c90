-- expect: 2:1 3:1
ALTER TABLE public.profiles ADD COLUMN locale text NOT NULL;
ALTER TABLE public.profiles ADD IF NOT EXISTS score integer CHECK (score >= 0) NOT NULL;
