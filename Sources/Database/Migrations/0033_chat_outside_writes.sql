-- Writes to messages and participants made outside the server (an operator's psql, a
-- script, another tool) reach realtime subscribers too (docs/realtime.md, "Writes made
-- outside the server").
--
-- The server's own connections carry application_name 'ecomansoni' (set at connect) and
-- announce their writes themselves, with the row. Any other session's write is NOTIFYed on
-- 'ecomansoni_outside_changes' with the table, the operation, the conversation and the row's
-- key: PostgreSQL delivers it at commit and drops it on rollback. Every instance LISTENs and
-- delivers to its own subscribers, which read the row under their usual rules; a delete
-- carries its key as old_record.

CREATE FUNCTION public.chat_notify_outside_write() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    conversation uuid;
    row_key jsonb;
BEGIN
    IF TG_TABLE_NAME = 'messages' THEN
        IF TG_OP = 'DELETE' THEN
            conversation := OLD.conversation_id;
            row_key := jsonb_build_object('id', OLD.id);
        ELSE
            conversation := NEW.conversation_id;
            row_key := jsonb_build_object('id', NEW.id);
        END IF;
    ELSE
        IF TG_OP = 'DELETE' THEN
            conversation := OLD.conversation_id;
            row_key := jsonb_build_object('user_id', OLD.user_id);
        ELSE
            conversation := NEW.conversation_id;
            row_key := jsonb_build_object('user_id', NEW.user_id);
        END IF;
    END IF;
    PERFORM pg_notify('ecomansoni_outside_changes', jsonb_build_object(
        'table', TG_TABLE_NAME, 'type', TG_OP, 'conversation_id', conversation, 'key', row_key)::text);
    RETURN NULL;
END
$$;

-- The WHEN clause keeps the server's own writes from even queuing the trigger.
CREATE TRIGGER messages_notify_outside_write AFTER INSERT OR UPDATE OR DELETE ON public.messages
FOR EACH ROW WHEN (current_setting('application_name', true) IS DISTINCT FROM 'ecomansoni')
EXECUTE FUNCTION public.chat_notify_outside_write();
CREATE TRIGGER participants_notify_outside_write AFTER INSERT OR UPDATE OR DELETE ON public.participants
FOR EACH ROW WHEN (current_setting('application_name', true) IS DISTINCT FROM 'ecomansoni')
EXECUTE FUNCTION public.chat_notify_outside_write();
