-- expect: 2:1
ALTER TABLE public.profiles ADD CHECK (char_length(bio) <= 500);
