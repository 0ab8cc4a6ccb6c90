-- Reels review for the admin console (issue 16, docs/reels.md "Moderation"): when and by whom a
-- moderator last decided on a reel, so the reported queue holds only reels reported since; an
-- index for the queue of reels waiting for review; and the hashtag blocklist. `moderated_by`
-- and `added_by` are plain ids (the full record, with the reason, is the admin audit log's).

ALTER TABLE reels.reels ADD COLUMN IF NOT EXISTS moderated_at timestamptz;
ALTER TABLE reels.reels ADD COLUMN IF NOT EXISTS moderated_by uuid;

-- lint:allow index-without-concurrently reason: the migrator runs in a transaction; the partial index covers only reels waiting for review
CREATE INDEX IF NOT EXISTS reels_review_idx ON reels.reels (created_at DESC, id) WHERE state = 'ready' AND moderation = 'pending';

-- Hashtags moderators blocked: a reel carrying one is held for review, and the hashtag's list
-- shows nothing. Tags are stored as captions yield them (`Hashtags.extract`: lower case, no `#`).
CREATE TABLE IF NOT EXISTS reels.hashtag_blocklist (
    tag text PRIMARY KEY CHECK (char_length(tag) BETWEEN 1 AND 100),
    reason text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    added_by uuid,
    added_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE reels.hashtag_blocklist ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON reels.hashtag_blocklist FROM PUBLIC, anon, authenticated, service_role;

-- Whether `wanted` is blocked, for the hashtag list that runs under the caller's role.
CREATE OR REPLACE FUNCTION reels.hashtag_blocked(wanted text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT EXISTS (SELECT 1 FROM reels.hashtag_blocklist WHERE tag = wanted) $$;
REVOKE ALL ON FUNCTION reels.hashtag_blocked(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reels.hashtag_blocked(text) TO authenticated, service_role;
