-- Retention: a tenant's oldest events are folded into a base snapshot and deleted.
-- `base_seq` is the last event folded into the base (0: nothing was ever pruned) and
-- `base_at` the cutoff of the prune that made it: every event at or after it is kept.
ALTER TABLE tenants ADD COLUMN base_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN base_at BIGINT;
-- Where the log ended when each command was decided: an outcome goes with the events
-- before it. Outcomes stored before this column existed count as decided at the log's end
-- now (kept until everything before that is pruned); a host of an older version stores
-- none, and its outcomes are kept.
ALTER TABLE commands ADD COLUMN log_end BIGINT;
UPDATE commands SET log_end = tenants.last_seq FROM tenants WHERE tenants.id = commands.tenant;
CREATE INDEX commands_by_log_end ON commands (tenant, log_end);
-- Events stay append-only; only those folded into the base may be deleted.
CREATE OR REPLACE FUNCTION agentstate_events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.seq <= (SELECT base_seq FROM tenants WHERE id = OLD.tenant) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'events are append-only';
END;
$$;
