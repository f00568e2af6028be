-- The audit log: every authoritative decision, durable before it is
-- answered, and every bundle and artifact that ever decided, by hash, so any
-- decision can be re-decided byte for byte. Portable SQL: SQLite and
-- PostgreSQL run the same file.
CREATE TABLE decisions (
    id TEXT PRIMARY KEY,
    received_at TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    entry TEXT NOT NULL,
    household_id TEXT,
    status TEXT NOT NULL,
    as_of TEXT NOT NULL,
    input TEXT NOT NULL,
    envelope TEXT NOT NULL,
    policy_hash TEXT NOT NULL,
    artifact_sha256 TEXT NOT NULL,
    caller TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    receipt TEXT NOT NULL
);
CREATE INDEX decisions_household ON decisions (household_id, id);
CREATE INDEX decisions_entry ON decisions (entry, id);
CREATE INDEX decisions_policy ON decisions (policy_hash, id);
CREATE INDEX decisions_received ON decisions (received_at, id);

CREATE TABLE bundles (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    packed TEXT NOT NULL,
    first_served_at TEXT NOT NULL
);

CREATE TABLE artifacts (
    sha256 TEXT PRIMARY KEY,
    wasm_hex TEXT NOT NULL,
    first_served_at TEXT NOT NULL
);
