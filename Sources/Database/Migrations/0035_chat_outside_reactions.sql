-- Reactions written outside the server reach realtime subscribers too, as messages and
-- participants do since 0033 (docs/realtime.md, "Writes made outside the server").
--
-- A reaction's conversation is its message's. When the message is gone (a reaction deleted
-- by the cascade of its message's deletion), nothing is sent: the message's deletion is.

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
    PERFORM pg_notify('ecomansoni_outside_changes', jsonb_build_object(
        'table', TG_TABLE_NAME, 'type', TG_OP, 'conversation_id', conversation, 'key', row_key)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER reactions_notify_outside_write AFTER INSERT OR UPDATE OR DELETE ON public.reactions
FOR EACH ROW WHEN (current_setting('application_name', true) IS DISTINCT FROM 'ecomansoni')
EXECUTE FUNCTION public.chat_notify_outside_write();
