CREATE TABLE internal.jobs (id bigint PRIMARY KEY);
CREATE TEMP TABLE scratch (id bigint);
CREATE SCHEMA reels_private;
CREATE TABLE reels_private.queue (id bigint PRIMARY KEY);
