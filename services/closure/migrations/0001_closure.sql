-- Closure's own view of each ticket, its disposals, feedback and callbacks, and the
-- append-only 销号 ledger.

-- One row per ticket closure has heard of (from its first `dispatched` event). `loop_state`
-- is the lifecycle crate's LoopState as JSON; every change goes through its `apply`.
CREATE TABLE tickets (
    ticket_id          uuid PRIMARY KEY,
    loop_state         jsonb NOT NULL,
    -- Grid holding the ticket (dispatch), or the grid it was transferred to.
    grid_code          text NOT NULL,
    -- Opaque citizen key from the dispatch; empty for patrol findings.
    citizen_key        text NOT NULL DEFAULT '',
    -- Dispose deadline of the first dispatch; "closed on time" is judged against it.
    dispose_by         timestamptz,
    category_code      text NOT NULL DEFAULT '',
    category_name      text NOT NULL DEFAULT '',
    channel            integer NOT NULL DEFAULT 0,
    -- Worker of the latest disposal (the ledger's worker).
    last_disposer      text NOT NULL DEFAULT '',
    -- called_at of the latest unreached callback of the current disposal round, for the
    -- minimum interval between counted attempts.
    last_unreached_at  timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE disposals (
    disposal_id         uuid PRIMARY KEY,
    ticket_id           uuid NOT NULL REFERENCES tickets (ticket_id),
    worker_id           text NOT NULL,
    grid_code           text NOT NULL,
    disposal_type       integer NOT NULL,
    result              text NOT NULL,
    evidence_urls       text[] NOT NULL DEFAULT '{}',
    disposed_at         timestamptz NOT NULL,
    unresolvable_reason text NOT NULL DEFAULT '',
    rework_count        integer NOT NULL,
    recorded_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX disposals_ticket ON disposals (ticket_id, recorded_at);

-- Ratings (citizen or reached callback) and unreached callback attempts.
CREATE TABLE feedback (
    feedback_id  uuid PRIMARY KEY,
    ticket_id    uuid NOT NULL REFERENCES tickets (ticket_id),
    rating       integer NOT NULL,
    comment      text NOT NULL DEFAULT '',
    source       integer NOT NULL,
    reached      boolean NOT NULL,
    actor_id     text NOT NULL,
    actor_role   integer NOT NULL,
    recorded_at  timestamptz NOT NULL,
    rework_count integer NOT NULL
);
CREATE INDEX feedback_ticket ON feedback (ticket_id, recorded_at);

-- 台账: one write-off per ticket. Append-only (see the end of this file).
CREATE TABLE ledger (
    entry_id         uuid PRIMARY KEY,
    ticket_id        uuid NOT NULL UNIQUE REFERENCES tickets (ticket_id),
    grid_code        text NOT NULL,
    worker_id        text NOT NULL,
    closed_at        timestamptz NOT NULL,
    basis            text NOT NULL CHECK (basis IN ('rating', 'exemption')),
    rating           integer,
    exemption_kind   integer,
    exemption_reason text,
    approved_by      text,
    rework_count     integer NOT NULL,
    on_time          boolean NOT NULL,
    dispose_by       timestamptz,
    category_code    text NOT NULL,
    category_name    text NOT NULL,
    channel          integer NOT NULL,
    CHECK ((basis = 'rating') = (rating IS NOT NULL)),
    CHECK ((basis = 'exemption') = (exemption_kind IS NOT NULL AND exemption_reason IS NOT NULL
                                    AND approved_by IS NOT NULL))
);
-- GetLedger pages by (closed_at, entry_id) within a grid prefix.
CREATE INDEX ledger_closed ON ledger (closed_at, entry_id);
CREATE INDEX ledger_grid ON ledger (grid_code text_pattern_ops, closed_at);

-- The ledger is append-only for the service itself: the platform grants its role UPDATE and
-- DELETE on new tables by default, so take them back here (migrations run as the
-- administrator, who owns the table) ...
REVOKE UPDATE, DELETE, TRUNCATE ON ledger FROM gridloop_closure;

-- ... and refuse changes with a trigger as well, so a later GRANT by mistake still cannot
-- rewrite history. (TRUNCATE has its own statement-level trigger.)
CREATE FUNCTION ledger_is_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER ledger_no_update_delete
    BEFORE UPDATE OR DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();

CREATE TRIGGER ledger_no_truncate
    BEFORE TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_is_append_only();
