-- The change log of migration 0036 also carries the changes a feed module describes itself
-- (the chat's writes made outside the server, migration 0038), so they are as durable as the
-- published tables' changes: written in the writer's transaction, read once per instance
-- from its saved position, never lost while no instance listens (docs/realtime.md, "Writes
-- made outside the server").
--
-- Such a change has no record of its own: `envelope` holds the module's description of it
-- (table, type, key, conversation), which the module turns into a change and realtime
-- delivers under the module's rules (membership).

ALTER TABLE public.realtime_changes ADD COLUMN envelope jsonb;

-- Logs a feed module's change (the readers poll the log); for its triggers (SECURITY DEFINER: the writer may not touch
-- the log).
CREATE FUNCTION public.realtime_log_feed_change(envelope jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    INSERT INTO public.realtime_changes (table_name, type, envelope)
    VALUES (envelope ->> 'table', envelope ->> 'type', envelope);
END
$$;
REVOKE ALL ON FUNCTION public.realtime_log_feed_change(jsonb) FROM PUBLIC;
