-- A command id belongs to the actor who first sent it: a retry by the same actor gets the
-- stored outcome, another actor's command with that id is refused (`id_in_use`). Outcomes
-- stored before this column existed have no actor (NULL) and answer any actor's retry, as
-- they did; retention deletes them with the events before them.
ALTER TABLE commands ADD COLUMN actor TEXT;
