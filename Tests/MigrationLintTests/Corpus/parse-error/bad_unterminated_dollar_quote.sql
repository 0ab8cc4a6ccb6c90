-- expect: 2:49
CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1; $$;
