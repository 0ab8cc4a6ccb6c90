-- expect: 2:1
UPDATE public.profiles SET bio = '';
