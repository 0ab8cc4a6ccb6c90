UPDATE public.profiles
   SET bio = ''
 WHERE bio IS NULL;
UPDATE public.profiles p SET bio = 'x' WHERE p.id IN (SELECT id FROM public.profiles);
