-- expect: 2:1
UPDATE public.profiles AS p SET display_name = u.phone FROM auth.users u;
