-- Reports of chat messages and profiles, for the moderators' queues (admin console), and the
-- warnings moderators give users. Reports are filed through checked functions only; a reporter
-- reads their own reports, nobody else's, and reporters are never shown to moderators.

-- One report per reporter per message; reporting again replaces the report and reopens it.
CREATE TABLE public.message_reports (
    message_id uuid NOT NULL REFERENCES public.messages (id) ON DELETE CASCADE,
    reporter_id uuid NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    reason text NOT NULL CHECK (reason IN ('spam', 'harassment', 'hate', 'violence', 'nudity', 'impersonation', 'other')),
    details text CHECK (details IS NULL OR char_length(details) BETWEEN 1 AND 1000),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Set when a moderator decides on the message.
    resolved_at timestamptz,
    PRIMARY KEY (message_id, reporter_id)
);
CREATE INDEX message_reports_open_idx ON public.message_reports (message_id, created_at) WHERE resolved_at IS NULL;
ALTER TABLE public.message_reports ENABLE ROW LEVEL SECURITY;

-- One report per reporter per profile, as for messages.
CREATE TABLE public.profile_reports (
    profile_id uuid NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    reporter_id uuid NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    reason text NOT NULL CHECK (reason IN ('spam', 'harassment', 'hate', 'violence', 'nudity', 'impersonation', 'other')),
    details text CHECK (details IS NULL OR char_length(details) BETWEEN 1 AND 1000),
    created_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    PRIMARY KEY (profile_id, reporter_id)
);
CREATE INDEX profile_reports_open_idx ON public.profile_reports (profile_id, created_at) WHERE resolved_at IS NULL;
ALTER TABLE public.profile_reports ENABLE ROW LEVEL SECURITY;

GRANT SELECT ON public.message_reports, public.profile_reports TO authenticated;
DROP POLICY IF EXISTS message_reports_own ON public.message_reports;
CREATE POLICY message_reports_own ON public.message_reports FOR SELECT TO authenticated USING (reporter_id = auth.uid());
DROP POLICY IF EXISTS profile_reports_own ON public.profile_reports;
CREATE POLICY profile_reports_own ON public.profile_reports FOR SELECT TO authenticated USING (reporter_id = auth.uid());

-- Reports a message the caller can see (a member of its conversation who has not hidden it):
-- {"reported": true}; NULL when there is no such message for the caller. A deleted message
-- or one's own cannot be reported (22023).
CREATE FUNCTION public.chat_report_message(message uuid, report_reason text, report_details text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    me uuid := auth.uid();
    found_message public.messages;
BEGIN
    IF me IS NULL THEN
        RAISE EXCEPTION 'sign in to report messages' USING ERRCODE = '42501';
    END IF;
    SELECT * INTO found_message FROM public.messages m WHERE m.id = message;
    IF NOT FOUND OR NOT public.is_chat_member(found_message.conversation_id) OR public.chat_hidden(message) THEN
        RETURN NULL;
    END IF;
    IF found_message.deleted_at IS NOT NULL THEN
        RAISE EXCEPTION 'message_id: the message was deleted' USING ERRCODE = '22023';
    END IF;
    IF found_message.sender_id = me THEN
        RAISE EXCEPTION 'message_id: you cannot report your own message' USING ERRCODE = '22023';
    END IF;
    INSERT INTO public.message_reports (message_id, reporter_id, reason, details)
    VALUES (message, me, report_reason, report_details)
    ON CONFLICT (message_id, reporter_id) DO UPDATE
        SET reason = EXCLUDED.reason, details = EXCLUDED.details, created_at = now(), resolved_at = NULL;
    RETURN jsonb_build_object('reported', true);
END
$$;
REVOKE ALL ON FUNCTION public.chat_report_message(uuid, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.chat_report_message(uuid, text, text) TO authenticated;

-- Reports a profile the caller can see (not one whose owner blocked them): {"reported": true};
-- NULL when there is no such profile for the caller. One's own cannot be reported (22023).
CREATE FUNCTION public.social_report_profile(target uuid, report_reason text, report_details text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    me uuid := auth.uid();
BEGIN
    IF me IS NULL THEN
        RAISE EXCEPTION 'sign in to report profiles' USING ERRCODE = '42501';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.profiles p WHERE p.id = target)
       OR EXISTS (SELECT 1 FROM public.blocks b WHERE b.blocker_id = target AND b.blocked_id = me) THEN
        RETURN NULL;
    END IF;
    IF target = me THEN
        RAISE EXCEPTION 'user_id: you cannot report your own profile' USING ERRCODE = '22023';
    END IF;
    INSERT INTO public.profile_reports (profile_id, reporter_id, reason, details)
    VALUES (target, me, report_reason, report_details)
    ON CONFLICT (profile_id, reporter_id) DO UPDATE
        SET reason = EXCLUDED.reason, details = EXCLUDED.details, created_at = now(), resolved_at = NULL;
    RETURN jsonb_build_object('reported', true);
END
$$;
REVOKE ALL ON FUNCTION public.social_report_profile(uuid, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.social_report_profile(uuid, text, text) TO authenticated;

-- Warnings moderators give a user about something they posted (a message, a profile, a
-- reel). The user reads their own and marks them seen; moderators read them under their scope.
CREATE TABLE admin.warnings (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    -- What it is about: 'message', 'profile' or 'reel', and that item's id.
    subject_kind text NOT NULL CHECK (subject_kind IN ('message', 'profile', 'reel')),
    subject_id uuid NOT NULL,
    reason text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    issued_by uuid NOT NULL REFERENCES admin.admin_users (user_id),
    created_at timestamptz NOT NULL DEFAULT now(),
    seen_at timestamptz
);
CREATE INDEX warnings_user_idx ON admin.warnings (user_id, created_at DESC);
ALTER TABLE admin.warnings ENABLE ROW LEVEL SECURITY;

GRANT SELECT (id, user_id, subject_kind, subject_id, reason, created_at, seen_at) ON admin.warnings TO authenticated;
GRANT UPDATE (seen_at) ON admin.warnings TO authenticated;
DROP POLICY IF EXISTS warnings_own ON admin.warnings;
CREATE POLICY warnings_own ON admin.warnings FOR SELECT TO authenticated
    USING (user_id = auth.uid() OR admin.has_scope('moderation.content'));
DROP POLICY IF EXISTS warnings_seen ON admin.warnings;
CREATE POLICY warnings_seen ON admin.warnings FOR UPDATE TO authenticated
    USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
