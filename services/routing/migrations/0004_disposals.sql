-- 处置 is a step of the holding worker's task, decided here under the ticket's row lock like
-- 签收, 退单 and 转办. One row per disposal; a rework round adds another. Closure keeps its
-- own copy from ticket.disposed, under the same disposal_id.
CREATE TABLE disposals (
    disposal_id         UUID PRIMARY KEY,
    ticket_id           TEXT        NOT NULL REFERENCES tickets (ticket_id),
    -- The HANDLE task it disposed (the worker's accepted task).
    task_id             BIGINT      NOT NULL REFERENCES tasks (id),
    worker_id           UUID        NOT NULL REFERENCES workers (worker_id),
    grid_code           TEXT        NOT NULL,
    -- gridloop.v1.DisposalType.
    disposal_type       SMALLINT    NOT NULL CHECK (disposal_type BETWEEN 1 AND 3),
    result              TEXT        NOT NULL,
    evidence_urls       TEXT[]      NOT NULL DEFAULT '{}',
    disposed_at         TIMESTAMPTZ NOT NULL,
    unresolvable_reason TEXT        NOT NULL DEFAULT '',
    rework_count        INTEGER     NOT NULL,
    recorded_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- A task is disposed once: its next round is a new task (rework re-dispatches).
CREATE UNIQUE INDEX disposals_task ON disposals (task_id);
CREATE INDEX disposals_ticket ON disposals (ticket_id, recorded_at);
