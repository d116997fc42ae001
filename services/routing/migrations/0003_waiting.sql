-- A ticket nobody along the chain could take (unroutable NO_WORKER) waits here until a
-- worker who can serve its grid comes back: SetDuty or UpsertWorker then re-dispatches it,
-- oldest first. Cleared when a dispatch gives it to someone or the ticket left the loop.
ALTER TABLE tickets
    ADD COLUMN waiting_grid     TEXT,
    ADD COLUMN waiting_since    TIMESTAMPTZ,
    -- The worker the failed dispatch excluded (the one who returned it), kept excluded.
    ADD COLUMN waiting_excluded UUID,
    -- The DispatchTrigger of the dispatch that found nobody; the re-dispatch carries it.
    ADD COLUMN waiting_trigger  SMALLINT;
CREATE INDEX tickets_waiting ON tickets (waiting_since, ticket_id) WHERE waiting_grid IS NOT NULL;
