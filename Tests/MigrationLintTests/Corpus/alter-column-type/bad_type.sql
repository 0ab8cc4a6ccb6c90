-- expect: 2:1 3:1
ALTER TABLE public.profiles ALTER COLUMN bio TYPE varchar(500);
ALTER TABLE public.profiles ALTER display_name SET DATA TYPE text USING display_name::text;
