-- Reels interaction rules (issue 15, docs/reels.md "Interactions"): comments are threaded one
-- level, so a thread is its top comment and the replies under it. A reader blocked by — or
-- blocking — the author of a top comment sees neither that comment nor any reply under it
-- (a reply without its thread makes no sense and would show the blocked author's words
-- quoted back); the server also refuses them a reply in that thread. Before this migration
-- the row-level security policy hid only the blocked author's own comments.

-- Whether the thread of the top comment `parent` is out of the current user's sight: its
-- author and they are blocked either way. Definer rights: the policy below cannot read
-- reels.comments again under its own row-level security (that would recurse).
CREATE FUNCTION reels.thread_blocked(parent uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    SELECT EXISTS (SELECT 1 FROM reels.comments top
                   WHERE top.id = parent AND public.is_blocked_between(auth.uid(), top.author_id))
$$;
REVOKE ALL ON FUNCTION reels.thread_blocked(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reels.thread_blocked(uuid) TO authenticated, service_role;

DROP POLICY IF EXISTS comments_visible ON reels.comments;
CREATE POLICY comments_visible ON reels.comments FOR SELECT TO authenticated
    USING (EXISTS (SELECT 1 FROM reels.reels r
                   WHERE r.id = reel_id AND reels.can_view(r.author_id, r.visibility, r.state, r.moderation))
           AND NOT public.is_blocked_between(auth.uid(), author_id)
           AND (parent_id IS NULL OR NOT reels.thread_blocked(parent_id)));
