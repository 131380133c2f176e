-- A command id is its actor's own: two users' commands with the same id are two commands.
-- Before, another user's command with a taken id was refused (`id_in_use`), which told any
-- user which ids others had used (an oracle, found by the red-team pass of issue 27) and let
-- them block a client's predictable ids by sending them first. Outcomes stored before ids
-- had owners keep the actor '' and answer any actor's retry, as they did.
CREATE TABLE commands_per_actor (
    tenant TEXT NOT NULL,
    actor TEXT NOT NULL,
    id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    log_end INTEGER,
    PRIMARY KEY (tenant, id, actor)
) STRICT, WITHOUT ROWID;
INSERT INTO commands_per_actor (tenant, actor, id, outcome, log_end)
    SELECT tenant, COALESCE(actor, ''), id, outcome, log_end FROM commands;
DROP TABLE commands;
ALTER TABLE commands_per_actor RENAME TO commands;
CREATE INDEX commands_by_log_end ON commands (tenant, log_end);
