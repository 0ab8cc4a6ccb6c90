ALTER TABLE public.profiles ADD COLUMN locale text NOT NULL DEFAULT 'en';
ALTER TABLE public.profiles ADD COLUMN nickname text;
ALTER TABLE public.profiles ADD COLUMN seq bigint NOT NULL GENERATED ALWAYS AS IDENTITY;
ALTER TABLE public.profiles ADD COLUMN n bigserial NOT NULL;
