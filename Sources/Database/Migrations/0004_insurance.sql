-- Insurance: saved OSAGO calculations and the assistant's knowledge base.
--
-- A saved calculation is the request and the server's own result for it (the client's
-- numbers are never stored). Only its owner reads or deletes it; rows are never updated.
-- Knowledge-base articles are public reference text synced from the files shipped with
-- the binary; signed-in callers (the assistant) may only read them.

CREATE SCHEMA insurance;
GRANT USAGE ON SCHEMA insurance TO anon, authenticated, service_role;

CREATE TABLE insurance.osago_calculations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE CASCADE,
    title text CHECK (title IS NULL OR char_length(title) BETWEEN 1 AND 100),
    request jsonb NOT NULL CHECK (jsonb_typeof(request) = 'object' AND octet_length(request::text) <= 8192),
    result jsonb NOT NULL CHECK (jsonb_typeof(result) = 'object' AND octet_length(result::text) <= 32768),
    tariff_version text NOT NULL CHECK (tariff_version ~ '^\d{4}-\d{2}-\d{2}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX osago_calculations_owner_idx ON insurance.osago_calculations (user_id, created_at DESC, id DESC);
ALTER TABLE insurance.osago_calculations ENABLE ROW LEVEL SECURITY;

GRANT SELECT, INSERT, DELETE ON insurance.osago_calculations TO authenticated;
DROP POLICY IF EXISTS osago_calculations_own ON insurance.osago_calculations;
CREATE POLICY osago_calculations_own ON insurance.osago_calculations FOR ALL TO authenticated
    USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());

CREATE TABLE insurance.knowledge_articles (
    slug text PRIMARY KEY CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    title text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    source text NOT NULL CHECK (char_length(source) BETWEEN 1 AND 500),
    tags text NOT NULL DEFAULT '',
    body text NOT NULL CHECK (char_length(body) <= 20000),
    checksum text NOT NULL,
    search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('russian', title), 'A')
        || setweight(to_tsvector('russian', tags), 'B')
        || setweight(to_tsvector('russian', body), 'C')
    ) STORED
);
CREATE INDEX knowledge_articles_search_idx ON insurance.knowledge_articles USING gin (search);
ALTER TABLE insurance.knowledge_articles ENABLE ROW LEVEL SECURITY;

GRANT SELECT ON insurance.knowledge_articles TO authenticated;
DROP POLICY IF EXISTS knowledge_articles_read ON insurance.knowledge_articles;
CREATE POLICY knowledge_articles_read ON insurance.knowledge_articles FOR SELECT TO authenticated
    USING (true);
