-- Writes to messages, participants and reactions made outside the server go into realtime's
-- change log (migration 0037) instead of a bare NOTIFY, which reached nobody when no
-- instance was listening (a restart): each instance now reads them from its saved position.
-- What is described is unchanged (migrations 0033 and 0035): table, operation, conversation
-- and the row's key; a reaction whose message is gone sends nothing.

CREATE OR REPLACE FUNCTION public.chat_notify_outside_write() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    conversation uuid;
    row_key jsonb;
    changed record;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := OLD;
    ELSE
        changed := NEW;
    END IF;
    IF TG_TABLE_NAME = 'messages' THEN
        conversation := changed.conversation_id;
        row_key := jsonb_build_object('id', changed.id);
    ELSIF TG_TABLE_NAME = 'participants' THEN
        conversation := changed.conversation_id;
        row_key := jsonb_build_object('user_id', changed.user_id);
    ELSE
        SELECT m.conversation_id INTO conversation FROM public.messages m WHERE m.id = changed.message_id;
        IF conversation IS NULL THEN
            RETURN NULL;
        END IF;
        row_key := jsonb_build_object('message_id', changed.message_id, 'user_id', changed.user_id);
    END IF;
    PERFORM public.realtime_log_feed_change(jsonb_build_object(
        'table', TG_TABLE_NAME, 'type', TG_OP, 'conversation_id', conversation, 'key', row_key));
    RETURN NULL;
END
$$;
