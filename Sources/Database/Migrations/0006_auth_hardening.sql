-- Auth hardening (issue 11, item 7).
--
-- `/otp` `data` is not written to the user any more: it travels with the pending sign-in
-- code and becomes `user_metadata` only when that code is verified (the number's owner has
-- then proved possession). NULL: the request carried no `data`.
ALTER TABLE auth.one_time_codes ADD COLUMN pending_user_metadata jsonb;

-- `/otp` requests with `create_user: false` for unknown numbers send nothing but still count
-- against the per-address hourly cap (they reveal whether a number has an account). They are
-- recorded with code_sent = false so they do not use up the number's own hourly quota.
ALTER TABLE auth.otp_requests ADD COLUMN code_sent boolean NOT NULL DEFAULT true;
