CREATE TABLE internal.jobs (id bigint PRIMARY KEY);
ALTER TABLE internal.jobs ADD COLUMN kind text NOT NULL;
