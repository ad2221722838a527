-- The event log: hook deliveries, detected revisions, run transitions and ingested Flux events.
--
-- Portable as 0001: the id clause is rewritten for PostgreSQL when migrations are applied.
-- `revision` holds the bare lower-case SHA-1 when the reported revision contains one
-- (`main@sha1:<sha>`, `main/<sha>`), else the text as given. `delivery_id` is unique where
-- set (both backends allow many NULLs in a UNIQUE column): a hook delivered twice is stored
-- once. `payload` is JSON text.

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT,
    trigger_name TEXT,
    source_name TEXT,
    revision TEXT,
    involved_kind TEXT,
    involved_namespace TEXT,
    involved_name TEXT,
    reason TEXT,
    severity TEXT,
    message TEXT,
    delivery_id TEXT UNIQUE,
    payload TEXT
);

CREATE INDEX events_revision ON events (revision, id);
CREATE INDEX events_involved ON events (involved_kind, involved_namespace, involved_name, id);
CREATE INDEX events_source ON events (source_name, id);
CREATE INDEX events_at ON events (at);
