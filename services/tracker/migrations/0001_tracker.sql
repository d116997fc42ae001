-- The tracker's schema: the authoritative loop state of every ticket, its timeline (audit
-- trail), SLA rules and clocks, escalations and violations.

-- One row per discovered ticket. `loop_state` is the lifecycle crate's LoopState as JSON and
-- changes only through its `apply`. The other columns are what the tracker needs besides:
-- SLA class, holder (for overdue events and scope) and the supervision reached so far.
CREATE TABLE tickets (
    ticket_id          uuid PRIMARY KEY,
    loop_state         jsonb       NOT NULL,
    category_code      text        NOT NULL DEFAULT '',
    category_name      text        NOT NULL DEFAULT '',
    urgency            integer     NOT NULL DEFAULT 0,
    -- Grid holding the ticket (last dispatch; before that, the grid the channel knew).
    grid_code          text        NOT NULL DEFAULT '',
    grid_level         integer     NOT NULL DEFAULT 0,
    worker_id          text        NOT NULL DEFAULT '',
    parent_ticket_id   uuid,
    -- 0 = never escalated; otherwise the GridLevel now supervising.
    escalation_level   integer     NOT NULL DEFAULT 0,
    escalation_grid    text        NOT NULL DEFAULT '',
    escalation_step    integer     NOT NULL DEFAULT 0,
    last_event_at      timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tickets_grid ON tickets (grid_code text_pattern_ops);

-- The audit trail: every event the tracker consumed, applied or not. Append-only.
CREATE TABLE timeline (
    seq               bigserial PRIMARY KEY,
    event_id          uuid        NOT NULL,
    ticket_id         uuid        NOT NULL,
    kind              text        NOT NULL,
    occurred_at       timestamptz NOT NULL,
    producer          text        NOT NULL,
    actor_id          text        NOT NULL DEFAULT '',
    actor_role        integer     NOT NULL DEFAULT 0,
    grid_code         text        NOT NULL DEFAULT '',
    from_state        integer     NOT NULL,
    to_state          integer     NOT NULL,
    summary           text        NOT NULL,
    violation         boolean     NOT NULL DEFAULT false,
    violation_reason  text        NOT NULL DEFAULT '',
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    -- A merge appears in the merged ticket's and in its parent's timeline.
    UNIQUE (ticket_id, event_id)
);
REVOKE UPDATE, DELETE, TRUNCATE ON timeline FROM gridloop_tracker;

-- Events the lifecycle rules rejected: recorded and published, never applied.
CREATE TABLE violations (
    id            bigserial PRIMARY KEY,
    event_id      uuid        NOT NULL UNIQUE,
    ticket_id     uuid        NOT NULL,
    attempted     text        NOT NULL,
    from_state    integer     NOT NULL,
    reason        text        NOT NULL,
    producer      text        NOT NULL,
    occurred_at   timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL
);
CREATE INDEX violations_recorded ON violations (recorded_at DESC, id DESC);

-- SLA rules by category × urgency. category_code '' is the default of an urgency. Limits are
-- (amount, TimeUnit) as in common.proto: 1 working hours, 2 working days, 3 calendar hours.
CREATE TABLE sla_rules (
    category_code    text        NOT NULL,
    urgency          integer     NOT NULL CHECK (urgency BETWEEN 1 AND 3),
    respond_amount   integer     NOT NULL CHECK (respond_amount > 0),
    respond_unit     integer     NOT NULL CHECK (respond_unit BETWEEN 1 AND 3),
    dispose_amount   integer     NOT NULL CHECK (dispose_amount > 0),
    dispose_unit     integer     NOT NULL CHECK (dispose_unit BETWEEN 1 AND 3),
    feedback_amount  integer     NOT NULL CHECK (feedback_amount > 0),
    feedback_unit    integer     NOT NULL CHECK (feedback_unit BETWEEN 1 AND 3),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (category_code, urgency)
);
-- general: respond 2 working hours, dispose 3 working days; urgent: 1 h / 24 h around the
-- clock; complex: 2 working hours / 15 working days. Feedback (回访) within 2 working days.
INSERT INTO sla_rules VALUES
    ('', 1, 2, 1, 3, 2, 2, 2, now()),
    ('', 2, 1, 3, 24, 3, 2, 2, now()),
    ('', 3, 2, 1, 15, 2, 2, 2, now());

-- SLA clocks. One row per deadline: a restarted respond clock is a new row, the old one
-- superseded (cancelled_at). A row is live while met_at and cancelled_at are NULL; it fires
-- (督办) once, when due_at passes while live; an extension moves due_at and re-arms it.
CREATE TABLE timers (
    id                bigserial PRIMARY KEY,
    ticket_id         uuid        NOT NULL REFERENCES tickets (ticket_id),
    kind              integer     NOT NULL CHECK (kind BETWEEN 1 AND 3),
    started_at        timestamptz NOT NULL,
    due_at            timestamptz NOT NULL,
    fired_at          timestamptz,
    met_at            timestamptz,
    cancelled_at      timestamptz,
    extended          boolean     NOT NULL DEFAULT false,
    extension_reason  text        NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX timers_one_live ON timers (ticket_id, kind)
    WHERE met_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX timers_due ON timers (due_at)
    WHERE fired_at IS NULL AND met_at IS NULL AND cancelled_at IS NULL;

-- Approved extensions (audit).
CREATE TABLE extensions (
    id          bigserial PRIMARY KEY,
    timer_id    bigint      NOT NULL REFERENCES timers (id),
    ticket_id   uuid        NOT NULL,
    old_due_at  timestamptz NOT NULL,
    new_due_at  timestamptz NOT NULL,
    reason      text        NOT NULL,
    granted_by  text        NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT now()
);
REVOKE UPDATE, DELETE, TRUNCATE ON extensions FROM gridloop_tracker;

-- Escalations the tracker emitted. A repeat threshold escalates once per ticket.
CREATE TABLE escalations (
    id               bigserial PRIMARY KEY,
    ticket_id        uuid        NOT NULL REFERENCES tickets (ticket_id),
    cause            integer     NOT NULL,
    timer_id         bigint      REFERENCES timers (id),
    repeat_threshold integer,
    level            integer     NOT NULL,
    grid_code        text        NOT NULL,
    step             integer     NOT NULL,
    event_id         uuid        NOT NULL,
    at               timestamptz NOT NULL,
    UNIQUE (ticket_id, repeat_threshold)
);

-- Grids seen in dispatch and fallback events, so an escalation can name the ancestor at the
-- level above when the tracker has heard of it (codes of a subtree share the root's prefix).
CREATE TABLE grids (
    code   text PRIMARY KEY,
    level  integer NOT NULL,
    name   text    NOT NULL DEFAULT ''
);
