-- Resumable uploads whose object is being stored ('finishing') record since when, so that an
-- upload whose finishing process died (a crash, a killed instance) is taken over by the next
-- HEAD or PATCH after 15 minutes instead of answering "being stored" until it expires.
-- Only uploads still receiving bytes count against their owner's quota (a finishing one's
-- object is checked against the quota when it is committed).

ALTER TABLE storage.resumable_uploads ADD COLUMN finishing_since timestamptz;
