-- Writes made outside the server carry their rows to realtime, as the server's own writes do
-- (issue 12). The triggers of migrations 0033, 0035 and 0038 logged only the row's key, and
-- each instance read the row when it delivered the change: a reaction an operator inserts and
-- deletes at once (or a message inserted and deleted) had no row left by then, and its INSERT
-- was never delivered. An insert or update now logs the row as it committed, under `record`,
-- built by the same function the server's reads use; a delete still logs its key only (its
-- old record).
--
-- The reaction's and the participant's realtime shapes become functions here, like
-- `public.chat_message_record` (0008, 0044), so that the server's statements
-- (Chat/ChatSQL.swift) and this trigger build them in one place. They are SQL functions with
-- no settings, which the planner inlines into the statements that call them.
--
-- The trigger renders timestamps in UTC whatever the writer's session says, as the server's
-- connections do (Database/DatabaseURL.swift): `record` must equal what the server reads.

-- A participant as realtime records it (without `muted_until`).
CREATE FUNCTION public.chat_participant_record(p public.participants) RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT jsonb_build_object('conversation_id', p.conversation_id, 'user_id', p.user_id, 'role', p.role,
        'joined_at', p.joined_at, 'delivered_up_to_seq', p.delivered_up_to_seq,
        'read_up_to_seq', p.read_up_to_seq, 'updated_at', p.updated_at)
$$;
REVOKE ALL ON FUNCTION public.chat_participant_record(public.participants) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.chat_participant_record(public.participants) TO authenticated;

-- A reaction as realtime records it: its row and its message's conversation (not a column of
-- `reactions`).
CREATE FUNCTION public.chat_reaction_record(r public.reactions, conversation uuid) RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT jsonb_build_object('message_id', r.message_id, 'user_id', r.user_id, 'conversation_id', conversation,
        'emoji', r.emoji, 'created_at', r.created_at, 'updated_at', r.updated_at)
$$;
REVOKE ALL ON FUNCTION public.chat_reaction_record(public.reactions, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.chat_reaction_record(public.reactions, uuid) TO authenticated;

-- 0038's trigger function, logging the row of an insert or an update too.
CREATE OR REPLACE FUNCTION public.chat_notify_outside_write() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' SET TimeZone = 'UTC'
AS $$
DECLARE
    conversation uuid;
    row_key jsonb;
    changed record;
    written jsonb;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := OLD;
    ELSE
        changed := NEW;
    END IF;
    IF TG_TABLE_NAME = 'messages' THEN
        conversation := changed.conversation_id;
        row_key := jsonb_build_object('id', changed.id);
        IF TG_OP <> 'DELETE' THEN
            written := public.chat_message_record(NEW);
        END IF;
    ELSIF TG_TABLE_NAME = 'participants' THEN
        conversation := changed.conversation_id;
        row_key := jsonb_build_object('user_id', changed.user_id);
        IF TG_OP <> 'DELETE' THEN
            written := public.chat_participant_record(NEW);
        END IF;
    ELSE
        SELECT m.conversation_id INTO conversation FROM public.messages m WHERE m.id = changed.message_id;
        IF conversation IS NULL THEN
            RETURN NULL;
        END IF;
        row_key := jsonb_build_object('message_id', changed.message_id, 'user_id', changed.user_id);
        IF TG_OP <> 'DELETE' THEN
            written := public.chat_reaction_record(NEW, conversation);
        END IF;
    END IF;
    PERFORM public.realtime_log_feed_change(jsonb_build_object(
        'table', TG_TABLE_NAME, 'type', TG_OP, 'conversation_id', conversation, 'key', row_key)
        || CASE WHEN written IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('record', written) END);
    RETURN NULL;
END
$$;
