-- lint:allow delete-without-where reason: one-time codes are short-lived; clearing them signs nobody out
DELETE FROM auth.one_time_codes;
