CREATE FUNCTION public.clear_bios() RETURNS void
LANGUAGE sql
BEGIN ATOMIC
    -- expect: 5:5
    UPDATE public.profiles SET bio = '';
    SELECT 1;
END;
