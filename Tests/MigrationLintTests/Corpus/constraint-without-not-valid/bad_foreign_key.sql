-- expect: 2:1
ALTER TABLE public.follows ADD CONSTRAINT follows_follower_fk
    FOREIGN KEY (follower_id) REFERENCES public.profiles (id);
