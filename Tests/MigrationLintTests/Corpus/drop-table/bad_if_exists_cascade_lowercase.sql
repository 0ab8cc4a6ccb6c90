-- expect: 3:5
-- Lower case, IF EXISTS and CASCADE are still a drop.
    drop table if exists public.a, public.b cascade;
