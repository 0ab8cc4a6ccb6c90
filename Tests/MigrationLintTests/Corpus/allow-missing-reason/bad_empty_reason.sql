-- expect: 2:1
-- lint:allow truncate reason:
TRUNCATE public.otp_requests;
