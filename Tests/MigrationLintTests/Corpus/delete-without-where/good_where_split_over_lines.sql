DELETE
  FROM public.sessions
 WHERE
       revoked_at IS NOT NULL;
DELETE FROM public.otp_requests -- old ones only
WHERE created_at < now() - interval '1 day';
