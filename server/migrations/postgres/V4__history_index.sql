-- The events that touch each user (as subject, or as the supervisor of a monitoring), so
-- a history page costs the page, not the log. Every append fills it; the events stored
-- before it existed (up to `unindexed_to`) are indexed by the store when it connects.
CREATE TABLE user_events (
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (tenant, user_id, seq)
);
ALTER TABLE tenants ADD COLUMN unindexed_to BIGINT NOT NULL DEFAULT 0;
UPDATE tenants SET unindexed_to = last_seq;
-- Pruning deletes a tenant's oldest entries by sequence number.
CREATE INDEX user_events_by_seq ON user_events (tenant, seq);
