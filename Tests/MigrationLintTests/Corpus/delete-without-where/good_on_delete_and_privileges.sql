CREATE TABLE internal.jobs (
    id bigint PRIMARY KEY,
    owner uuid REFERENCES auth.users (id) ON DELETE CASCADE ON UPDATE NO ACTION
);
GRANT SELECT, INSERT, DELETE ON internal.jobs TO authenticated;
CREATE TRIGGER jobs_audit AFTER INSERT OR UPDATE OR DELETE ON internal.jobs
FOR EACH ROW EXECUTE FUNCTION internal.audit();
