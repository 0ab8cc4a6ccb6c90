DO $$
BEGIN
    -- expect: 4:5
    DELETE FROM public.otp_requests;
END $$;
