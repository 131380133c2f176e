-- The event log as the first SQLite servers created it (IF NOT EXISTS: those databases are
-- adopted as they are).
CREATE TABLE IF NOT EXISTS tenants (
    id TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE IF NOT EXISTS events (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS commands (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants(id),
    actor TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS events_are_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_are_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
