DELETE FROM public.profiles WHERE bio = 'a; DELETE FROM public.profiles;' OR bio = E'it\'s; DELETE FROM x';
SELECT $tag$ ; DELETE FROM public.profiles; $$ ; $tag$;
DELETE FROM public.profiles WHERE "odd;name" = 'x';
