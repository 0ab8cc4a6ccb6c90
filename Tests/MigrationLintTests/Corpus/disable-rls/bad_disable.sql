-- expect: 2:1
ALTER TABLE public.profiles DISABLE ROW LEVEL SECURITY;
