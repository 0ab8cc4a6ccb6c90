DROP INDEX IF EXISTS public.posts_old_idx;
DROP FUNCTION IF EXISTS public.old_helper(uuid);
DROP POLICY IF EXISTS posts_read ON public.posts;
DROP TRIGGER IF EXISTS posts_touch ON public.posts;
