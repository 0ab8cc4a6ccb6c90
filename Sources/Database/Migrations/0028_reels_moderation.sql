-- Reels review for the admin console (issue 16, docs/reels.md "Moderation"): when and by whom a
-- moderator last decided on a reel, so the reported queue holds only reels reported since, and
-- an index for the queue of reels waiting for review. `moderated_by` is a plain id (the
-- decision's full record, with the reason, is the admin audit log's).

ALTER TABLE reels.reels ADD COLUMN IF NOT EXISTS moderated_at timestamptz;
ALTER TABLE reels.reels ADD COLUMN IF NOT EXISTS moderated_by uuid;

-- lint:allow index-without-concurrently reason: the migrator runs in a transaction; the partial index covers only reels waiting for review
CREATE INDEX IF NOT EXISTS reels_review_idx ON reels.reels (created_at DESC, id) WHERE state = 'ready' AND moderation = 'pending';
