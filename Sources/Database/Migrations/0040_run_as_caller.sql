-- One statement sets the caller's role, claims and settings and runs the caller's work, so a
-- request that is one statement costs one round trip instead of four (BEGIN, the settings,
-- the statement, COMMIT): PostgresNIO does not pipeline, and each exchange cost the server
-- about as much CPU as the work's SQL did (docs/performance.md, "Tables (issue 19)").
--
-- The settings are transaction-local, so they end with the statement's own transaction
-- (or the caller's explicit one); the role ends with the call, so a transaction may make
-- several (a read and its count). `statement` refers to its values as `$1[1]`, `$1[2]`, …
-- of `parameters`; it is planned for those values, as an unnamed statement of the extended
-- protocol is. Only the owning role may call it: it could take any role the owner has.
CREATE OR REPLACE FUNCTION public.run_as_caller(
    caller_role text, claims text, settings text[], statement text, parameters text[], returns_rows boolean
) RETURNS SETOF record
LANGUAGE plpgsql
AS $$
DECLARE
    i integer := 1;
BEGIN
    PERFORM set_config('role', caller_role, true), set_config('request.jwt.claims', claims, true);
    WHILE i < coalesce(array_length(settings, 1), 0) LOOP
        PERFORM set_config(settings[i], settings[i + 1], true);
        i := i + 2;
    END LOOP;
    IF returns_rows THEN
        RETURN QUERY EXECUTE statement USING parameters;
    ELSE
        EXECUTE statement USING parameters;
    END IF;
    PERFORM set_config('role', 'none', true);
END
$$;

REVOKE ALL ON FUNCTION public.run_as_caller(text, text, text[], text, text[], boolean) FROM PUBLIC;
