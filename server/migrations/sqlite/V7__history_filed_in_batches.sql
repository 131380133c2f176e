-- The history index is filed in batches rather than with each append: a tenant's events
-- after `filed_to` are not in `user_events` yet, and a history page reads them from the
-- log itself. Filing an event alone cost a page of the index written per event (each
-- person's entries lie apart); a batch writes each page once for all its entries there.
-- Everything stored so far was filed with its append (or is in the backlog, `unindexed_to`).
ALTER TABLE tenants ADD COLUMN filed_to INTEGER NOT NULL DEFAULT 0;
UPDATE tenants SET filed_to = last_seq;
