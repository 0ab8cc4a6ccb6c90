-- lint:allow truncate reason: request log only; nothing reads rows older than a day
TRUNCATE public.otp_requests;
