-- Retention: a tenant's oldest events are folded into a base snapshot and deleted.
-- `base_seq` is the last event folded into the base (0: nothing was ever pruned) and
-- `base_at` the cutoff of the prune that made it: every event at or after it is kept.
ALTER TABLE tenants ADD COLUMN base_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN base_at INTEGER;
-- Where the log ended when each command was decided: an outcome goes with the events
-- before it. Outcomes stored before this column existed count as decided at the log's end
-- now (kept until everything before that is pruned).
ALTER TABLE commands ADD COLUMN log_end INTEGER;
UPDATE commands SET log_end = (SELECT last_seq FROM tenants WHERE tenants.id = commands.tenant);
CREATE INDEX commands_by_log_end ON commands (tenant, log_end);
-- Events stay append-only; only those folded into the base may be deleted.
DROP TRIGGER IF EXISTS events_are_append_only_delete;
CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
WHEN OLD.seq > (SELECT base_seq FROM tenants WHERE id = OLD.tenant)
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
