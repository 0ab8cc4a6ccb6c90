-- A device's Janus participant can move to another calls-ws instance (spec sfu-janus.md
-- §3.4 "Resume elsewhere"): the instance that takes it over by compare-and-set on
-- `instance_id` and claims its Janus session rebuilds what the old instance knew from
-- the row. Two columns carry what Janus cannot be asked for again:
--   streams      the participant's own published streams ({mid, kind, source, codec,
--                simulcast}), which are also the feed the others see;
--   subscription its subscriber PeerConnection as last offered (offer id, whether an
--                answer is outstanding, `all`, the m-lines described to the device and the
--                publishers' streams they carry); NULL without a subscriber handle.
ALTER TABLE calls.sfu_participants
    ADD COLUMN streams jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN subscription jsonb;
