-- Realtime for every committed write to the tables of the `supabase_realtime` publication
-- (docs/realtime.md, "Published tables"), as Supabase Realtime offers, kept durable across
-- restarts.
--
-- An operator publishes a table as on Supabase:
--     ALTER PUBLICATION supabase_realtime ADD TABLE public.notes;
-- and the server puts the capture trigger on it (public.realtime_sync_capture, run at start,
-- every few seconds and when a client binds to a table it does not know yet). The trigger
-- writes each row change (the new row, and the old one) into public.realtime_changes in the
-- writer's transaction: a rolled-back write leaves nothing, a committed one cannot be lost.
-- It does as little as it can, since every writer pays for it: one catalogue lookup (the
-- replica identity of an UPDATE; the reader trims `old_record` to it) and no NOTIFY (which would serialise
-- the commits of every writer; the readers poll). Each instance reads the log in
-- commit-safe order (only transactions older than the oldest one still running, so a change
-- committed late with a smaller id is never skipped; public.realtime_horizon) from a position it keeps in
-- public.realtime_positions, and delivers each change to its own subscribers whose
-- row-level security lets them read the row, checked as each of them
-- (public.realtime_visible_rows).
--
-- The chat tables are not captured here: the chat module publishes their changes itself,
-- scoped to conversations.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime') THEN
        CREATE PUBLICATION supabase_realtime;
    END IF;
END
$$;

CREATE TABLE public.realtime_changes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The writing transaction: the log is read in commit-safe order by it.
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    table_name text NOT NULL,
    type text NOT NULL CHECK (type IN ('INSERT', 'UPDATE', 'DELETE')),
    -- The row after the change (INSERT, UPDATE); null for DELETE.
    record jsonb,
    -- The whole row before it (UPDATE, DELETE); the reader keeps what the replica identity gives.
    old_record jsonb,
    -- The table's replica identity when it was written (pg_class.relreplident).
    replica_identity "char",
    committed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX realtime_changes_xid_idx ON public.realtime_changes (xid, id);
CREATE INDEX realtime_changes_committed_idx ON public.realtime_changes (committed_at);
ALTER TABLE public.realtime_changes ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.realtime_changes FROM PUBLIC, anon, authenticated;

-- Where each instance has read the log up to: every change of a transaction older than
-- `horizon` was delivered, and of transaction `horizon` the changes up to `last_id`.
CREATE TABLE public.realtime_positions (
    instance text PRIMARY KEY CHECK (char_length(instance) BETWEEN 1 AND 200),
    horizon xid8 NOT NULL,
    last_id bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.realtime_positions ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.realtime_positions FROM PUBLIC, anon, authenticated;

-- The log's horizon: every transaction of this database older than it has finished. It is
-- the oldest transaction still running here, or the next one to start; transactions of the
-- cluster's other databases never write this log and do not hold it back when they can be
-- told apart (pg_stat_activity, pg_prepared_xacts: a transaction whose database cannot be
-- read there counts as this one's). A transaction ID is the top-level one, as the log's.
CREATE FUNCTION public.realtime_horizon() RETURNS xid8
LANGUAGE plpgsql STABLE SET search_path = ''
AS $$
DECLARE
    -- PL/pgSQL: its plan is kept per session (a SQL function with a SET clause is planned
    -- again at every call, and the readers call this at every poll).
    taken pg_catalog.pg_snapshot := pg_catalog.pg_current_snapshot();
BEGIN
    RETURN coalesce(
        (SELECT min(running.xid)
         FROM pg_catalog.pg_snapshot_xip(taken) AS running(xid)
         WHERE NOT EXISTS (
                SELECT 1 FROM pg_catalog.pg_stat_activity a
                WHERE a.backend_xid = running.xid::xid AND a.datid IS NOT NULL
                    AND a.datname <> pg_catalog.current_database())
            AND NOT EXISTS (
                SELECT 1 FROM pg_catalog.pg_prepared_xacts p
                WHERE p.transaction = running.xid::xid AND p.database <> pg_catalog.current_database())),
        pg_catalog.pg_snapshot_xmax(taken));
END
$$;

-- The capture trigger of a published table. SECURITY DEFINER: the writer (any role) may not
-- touch the log itself.
CREATE FUNCTION public.realtime_capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    INSERT INTO public.realtime_changes (table_name, type, record, old_record, replica_identity)
    VALUES (
        TG_TABLE_NAME, TG_OP,
        CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END,
        CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
        CASE WHEN TG_OP = 'UPDATE' THEN (SELECT c.relreplident FROM pg_catalog.pg_class c WHERE c.oid = TG_RELID) END);
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION public.realtime_capture() FROM PUBLIC;

-- Puts the capture trigger on every table of `supabase_realtime` in `public` that has a
-- primary key, except `exempt` (tables whose module publishes their changes itself) and the
-- log's own tables, and takes it off tables no longer published. Returns the published tables
-- with what became of each: 'captured', 'exempt', 'no primary key' or the error met.
CREATE FUNCTION public.realtime_sync_capture(exempt text[]) RETURNS TABLE (table_name text, status text)
LANGUAGE plpgsql SET search_path = ''
AS $$
DECLARE
    published record;
    stale record;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('public.realtime_sync_capture'));
    -- A table locked by a long transaction is reported and tried again at the next sync.
    PERFORM set_config('lock_timeout', '2s', true);
    FOR published IN
        SELECT c.oid, c.relname::text AS name,
            EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_key,
            EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'realtime_capture') AS has_trigger
        FROM pg_catalog.pg_publication_tables p
        JOIN pg_catalog.pg_class c ON c.relname = p.tablename
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace AND n.nspname = p.schemaname
        WHERE p.pubname = 'supabase_realtime' AND p.schemaname = 'public' AND c.relkind = 'r'
        ORDER BY c.relname
    LOOP
        table_name := published.name;
        IF published.name = ANY (exempt) OR published.name IN ('realtime_changes', 'realtime_positions') THEN
            status := 'exempt';
        ELSIF NOT published.has_key THEN
            status := 'no primary key';
        ELSIF published.has_trigger THEN
            status := 'captured';
        ELSE
            BEGIN
                EXECUTE format(
                    'CREATE TRIGGER realtime_capture AFTER INSERT OR UPDATE OR DELETE ON public.%I '
                    'FOR EACH ROW EXECUTE FUNCTION public.realtime_capture()', published.name);
                status := 'captured';
            EXCEPTION WHEN OTHERS THEN
                status := SQLERRM;
            END;
        END IF;
        RETURN NEXT;
    END LOOP;
    FOR stale IN
        SELECT c.relname::text AS name
        FROM pg_catalog.pg_trigger t
        JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
        WHERE t.tgname = 'realtime_capture' AND (c.relname = ANY (exempt) OR NOT EXISTS (
            SELECT 1 FROM pg_catalog.pg_publication_tables p
            WHERE p.pubname = 'supabase_realtime' AND p.schemaname = 'public' AND p.tablename = c.relname))
    LOOP
        BEGIN
            EXECUTE format('DROP TRIGGER realtime_capture ON public.%I', stale.name);
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'realtime capture could not be taken off %: %', stale.name, SQLERRM;
        END;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION public.realtime_sync_capture(text[]) FROM PUBLIC;

-- Which subscribers may read which rows now, evaluated as each subscriber: for each claims
-- object, the request role and `request.jwt.claims` are set (for this transaction) and the
-- rows (each a JSON object holding at least the primary key) are looked up by their primary
-- key under row-level security, as Supabase Realtime does. Answers (claim, row) index
-- pairs, 1-based, for the rows each may read.
-- Only the anon and authenticated roles are taken; any other role, a role without the SELECT
-- privilege, and a subscriber whose policies raise an error read nothing (fail closed).
-- Not SECURITY DEFINER: only the server's role, a member of both request roles, may switch.
--
-- Speed: the keys are taken out of the JSON before the table is scanned, so the lookup's
-- condition compares columns only (leakproof operators: row-level security lets the primary
-- key's index serve it); and the lookup is prepared once per session and key, then only
-- executed for each subscriber (its plan is the `authenticated` role's, kept across claims).
CREATE FUNCTION public.realtime_visible_rows(target regclass, candidates jsonb[], claims jsonb[])
RETURNS TABLE (claim_index integer, row_index integer)
LANGUAGE plpgsql SET search_path = ''
AS $$
DECLARE
    condition text;
    prepared text;
    run text;
    subscriber jsonb;
    ordinal integer := 0;
BEGIN
    SELECT string_agg(format('t.%1$I = k.%1$I', a.attname), ' AND ')
    INTO condition
    FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
    WHERE i.indrelid = target AND i.indisprimary;
    IF condition IS NULL THEN
        RAISE EXCEPTION '% has no primary key', target USING ERRCODE = '55000';
    END IF;
    prepared := 'realtime_visible_' || left(md5(target::text || ' ' || condition), 20);
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_prepared_statements p WHERE p.name = prepared) THEN
        EXECUTE format(
            'PREPARE %1$I (jsonb[]) AS SELECT r.n::integer FROM unnest($1) WITH ORDINALITY r(row, n) '
            'CROSS JOIN LATERAL pg_catalog.jsonb_populate_record(NULL::%2$s, r.row) k '
            'WHERE EXISTS (SELECT 1 FROM %2$s t WHERE %3$s)', prepared, target, condition);
    END IF;
    run := format('EXECUTE %I(%L)', prepared, candidates);
    FOREACH subscriber IN ARRAY claims LOOP
        ordinal := ordinal + 1;
        CONTINUE WHEN coalesce(subscriber ->> 'role', '') NOT IN ('anon', 'authenticated');
        BEGIN
            PERFORM pg_catalog.set_config('role', subscriber ->> 'role', true);
            PERFORM pg_catalog.set_config('request.jwt.claims', subscriber::text, true);
            claim_index := ordinal;
            FOR row_index IN EXECUTE run LOOP
                RETURN NEXT;
            END LOOP;
            PERFORM pg_catalog.set_config('role', 'none', true);
        EXCEPTION WHEN OTHERS THEN
            -- A policy that fails for this subscriber hides the rows from them only.
            NULL;
        END;
    END LOOP;
    PERFORM pg_catalog.set_config('role', 'none', true);
    PERFORM pg_catalog.set_config('request.jwt.claims', '', true);
END
$$;
REVOKE ALL ON FUNCTION public.realtime_visible_rows(regclass, jsonb[], jsonb[]) FROM PUBLIC;
