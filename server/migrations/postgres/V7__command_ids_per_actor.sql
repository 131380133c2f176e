-- A command id is its actor's own: two users' commands with the same id are two commands.
-- Before, another user's command with a taken id was refused (`id_in_use`), which told any
-- user which ids others had used (an oracle, found by the red-team pass of issue 27) and let
-- them block a client's predictable ids by sending them first. Outcomes stored before ids
-- had owners keep the actor '' and answer any actor's retry, as they did.
UPDATE commands SET actor = '' WHERE actor IS NULL;
ALTER TABLE commands ALTER COLUMN actor SET NOT NULL;
ALTER TABLE commands DROP CONSTRAINT commands_pkey;
ALTER TABLE commands ADD PRIMARY KEY (tenant, id, actor);
