-- Ticket ids are UUIDs in every service; routing kept them as TEXT. Every ticket id routing
-- has stored came from intake, which names tickets by UUID, so each row converts as it is;
-- a row that did not would stop the migration rather than be dropped. The foreign keys are
-- dropped and made again around the change so that both sides change type together.
ALTER TABLE tasks DROP CONSTRAINT tasks_ticket_id_fkey;
ALTER TABLE disposals DROP CONSTRAINT disposals_ticket_id_fkey;

ALTER TABLE tickets ALTER COLUMN ticket_id TYPE uuid USING ticket_id::uuid;
ALTER TABLE tasks ALTER COLUMN ticket_id TYPE uuid USING ticket_id::uuid;
ALTER TABLE disposals ALTER COLUMN ticket_id TYPE uuid USING ticket_id::uuid;

ALTER TABLE tasks ADD CONSTRAINT tasks_ticket_id_fkey
    FOREIGN KEY (ticket_id) REFERENCES tickets (ticket_id);
ALTER TABLE disposals ADD CONSTRAINT disposals_ticket_id_fkey
    FOREIGN KEY (ticket_id) REFERENCES tickets (ticket_id);
