-- The membership checks behind chat's row-level security, as PL/pgSQL: the same rules, but
-- their plans are cached per session. As SQL functions with definer rights they were planned
-- again on every call, once per row a policy checks: reading a conversation's latest 50
-- messages spent 8–13 ms in them, 4 ms now (docs/performance.md, "Tables (issue 19)").

CREATE OR REPLACE FUNCTION public.chat_role(conversation uuid) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    RETURN (SELECT p.role FROM public.participants p WHERE p.conversation_id = conversation AND p.user_id = auth.uid());
END
$$;

CREATE OR REPLACE FUNCTION public.is_chat_member(conversation uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM public.participants p WHERE p.conversation_id = conversation AND p.user_id = auth.uid());
END
$$;
