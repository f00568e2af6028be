-- Which bundle each policy name serves, in order. A replica applies every
-- publication after the last it saw, so a policy published to one replica
-- is picked up by the others; a restart resumes from the latest.
CREATE TABLE publications (
    seq BIGINT PRIMARY KEY,
    policy_name TEXT NOT NULL,
    bundle_hash TEXT NOT NULL,
    source TEXT NOT NULL,
    published_by TEXT NOT NULL,
    published_at TEXT NOT NULL
);
CREATE INDEX publications_name ON publications (policy_name, seq);
