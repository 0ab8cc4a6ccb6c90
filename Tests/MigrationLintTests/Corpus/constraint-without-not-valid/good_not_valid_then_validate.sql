ALTER TABLE public.follows ADD CONSTRAINT follows_follower_fk
    FOREIGN KEY (follower_id) REFERENCES public.profiles (id) NOT VALID;
ALTER TABLE public.profiles ADD CONSTRAINT bio_len CHECK (char_length(bio) <= 500) NOT VALID;
ALTER TABLE public.profiles VALIDATE CONSTRAINT bio_len;
ALTER TABLE public.profiles ADD CONSTRAINT profiles_username_key UNIQUE USING INDEX profiles_username_idx;
