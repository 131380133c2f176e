-- The event log. `tenants.last_seq` is what every append is conditional on: a host
-- appends only when the log still ends where its instance's state does.
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    last_seq BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE events (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    seq BIGINT NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
);
CREATE TABLE commands (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE TABLE snapshots (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    seq BIGINT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
);
CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants(id),
    actor TEXT NOT NULL
);
CREATE INDEX tokens_by_tenant ON tokens (tenant, actor);
CREATE FUNCTION agentstate_events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only';
END;
$$;
CREATE TRIGGER events_are_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION agentstate_events_are_append_only();
