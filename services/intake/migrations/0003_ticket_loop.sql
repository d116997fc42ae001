-- Intake follows the loop: it consumes every lifecycle event and keeps each ticket's current
-- state, so GetTicket and FindTickets answer a caller truthfully and a repeat complaint merges
-- only into a ticket that is still open.

-- tickets.state is intake's repeat-decision state from now on: DISCOVERED while the ticket is
-- open, whatever step of the loop it has reached (ticket_loop has the step); MERGED when it
-- was folded into another ticket; CLOSED once intake has seen its write-off (销号). Repeats
-- merge only into DISCOVERED rows, so the lookups and the partial index stay as they are.
ALTER TABLE tickets DROP CONSTRAINT tickets_state_check;
ALTER TABLE tickets ADD CONSTRAINT tickets_state_check
    CHECK (state IN ('DISCOVERED', 'MERGED', 'CLOSED'));

-- A repeat merged into a ticket whose write-off reached the stream first is split off as a
-- ticket of its own: DISCOVERED again, no parent, and linked to the closed ticket here.
ALTER TABLE tickets
    ADD COLUMN split_from_ticket_id UUID REFERENCES tickets (ticket_id),
    ADD COLUMN split_at TIMESTAMPTZ,
    ADD CONSTRAINT tickets_split CHECK ((split_from_ticket_id IS NULL) = (split_at IS NULL));
CREATE INDEX tickets_by_split_from ON tickets (split_from_ticket_id, split_at)
    WHERE split_from_ticket_id IS NOT NULL;

-- Intake's view of each ticket's loop, replayed from the stream: one row per ticket from its
-- `discovered` (or `merged`) event on. `loop_state` is the lifecycle crate's LoopState as
-- JSON (state and counters); every change goes through its `apply`, like routing's, closure's
-- and the tracker's `tickets`. The other columns are what a caller is told besides the state.
CREATE TABLE ticket_loop (
    ticket_id             UUID        PRIMARY KEY,
    loop_state            JSONB       NOT NULL,
    -- Grid holding it (dispatch), or the grid it was transferred to; empty before dispatch.
    grid_code             TEXT        NOT NULL DEFAULT '',
    -- Worker holding it; empty while it waits for a (re-)dispatch.
    worker_id             TEXT        NOT NULL DEFAULT '',
    accepted_at           TIMESTAMPTZ,
    -- respond_by of the current dispatch; dispose_by of the first (kept, as closure does).
    respond_by            TIMESTAMPTZ,
    dispose_by            TIMESTAMPTZ,
    -- The latest disposal (proto DisposalType numbers).
    disposal_type         INTEGER     NOT NULL DEFAULT 0,
    disposal_result       TEXT        NOT NULL DEFAULT '',
    disposed_at           TIMESTAMPTZ,
    -- The latest rating (proto Rating numbers); 0 before any.
    rating                INTEGER     NOT NULL DEFAULT 0,
    -- The write-off: when, and on a rating or an exemption (proto numbers).
    closed_at             TIMESTAMPTZ,
    closed_on_rating      INTEGER,
    exemption_kind        INTEGER,
    exemption_reason      TEXT,
    exemption_approved_by TEXT,
    -- `overdue` and `escalated` events seen. They are informational for the loop (the
    -- tracker does not apply them to its LoopState either), so they are counted here.
    overdue_count         INTEGER     NOT NULL DEFAULT 0,
    escalation_count      INTEGER     NOT NULL DEFAULT 0,
    -- The loop's steps besides intake's own (dispatch … write-off, 督办, 层级上报), oldest
    -- first, at most the last 20: [{"at", "kind", "summary"}]. Receipt, merges and splits
    -- are read from `tickets`, which has them as soon as intake decides them.
    history               JSONB       NOT NULL DEFAULT '[]',
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);
