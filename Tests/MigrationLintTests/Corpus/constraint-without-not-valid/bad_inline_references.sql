-- expect: 2:1
ALTER TABLE public.follows ADD COLUMN reviewer uuid REFERENCES public.profiles (id);
