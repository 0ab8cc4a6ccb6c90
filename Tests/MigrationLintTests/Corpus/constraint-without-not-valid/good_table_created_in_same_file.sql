CREATE TABLE internal.jobs (id bigint PRIMARY KEY, owner uuid);
ALTER TABLE internal.jobs ADD CONSTRAINT jobs_owner_fk FOREIGN KEY (owner) REFERENCES auth.users (id);
