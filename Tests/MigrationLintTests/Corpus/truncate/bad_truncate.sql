-- expect: 2:1 3:1
TRUNCATE public.otp_requests;
TRUNCATE TABLE ONLY public.sessions RESTART IDENTITY CASCADE;
