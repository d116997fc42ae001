-- Routing's own schema: the grid tree, workers and their AB posts, the duty roster, routing
-- rules, routing's view of each ticket, and the task assignments.

CREATE TABLE grids (
    code        TEXT PRIMARY KEY,
    name        TEXT        NOT NULL,
    level       SMALLINT    NOT NULL CHECK (level BETWEEN 1 AND 4),
    -- Deferred so a batch may bring parents after their children.
    parent_code TEXT REFERENCES grids (code) DEFERRABLE INITIALLY DEFERRED,
    aliases     TEXT[]      NOT NULL DEFAULT '{}',
    -- Outer ring as JSON [{"lat":..,"lng":..}, ...]; point-in-polygon runs in Rust.
    boundary    JSONB,
    -- Bounding box of the boundary, so only a few polygons are tested per point.
    min_lat     DOUBLE PRECISION,
    max_lat     DOUBLE PRECISION,
    min_lng     DOUBLE PRECISION,
    max_lng     DOUBLE PRECISION,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((level = 1) = (parent_code IS NULL))
);
CREATE INDEX grids_parent ON grids (parent_code);
CREATE INDEX grids_level ON grids (level);
CREATE INDEX grids_bbox ON grids (min_lat, max_lat) WHERE boundary IS NOT NULL;

CREATE TABLE workers (
    worker_id     UUID PRIMARY KEY,
    staff_no      TEXT        NOT NULL UNIQUE,
    name          TEXT        NOT NULL,
    role          SMALLINT    NOT NULL CHECK (role BETWEEN 1 AND 3),
    -- Full number: routing holds workers' contact; every response shows it masked.
    phone         TEXT        NOT NULL,
    chief_of_grid TEXT REFERENCES grids (code),
    capacity      INTEGER     NOT NULL DEFAULT 0 CHECK (capacity >= 0),
    on_duty       BOOLEAN     NOT NULL DEFAULT true,
    leave_from    TIMESTAMPTZ,
    leave_until   TIMESTAMPTZ,
    duty_reason   TEXT        NOT NULL DEFAULT '',
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX workers_chief ON workers (chief_of_grid) WHERE chief_of_grid IS NOT NULL;

-- AB岗: post 1 = A (primary), 2 = B (backup).
CREATE TABLE posts (
    worker_id UUID     NOT NULL REFERENCES workers (worker_id) ON DELETE CASCADE,
    grid_code TEXT     NOT NULL REFERENCES grids (code),
    post      SMALLINT NOT NULL CHECK (post IN (1, 2)),
    PRIMARY KEY (worker_id, grid_code)
);
CREATE INDEX posts_grid ON posts (grid_code);

-- Category → handling level (gridloop.v1.GridLevel) and SLA class (gridloop.v1.Urgency).
CREATE TABLE routing_rules (
    category_code  TEXT PRIMARY KEY,
    handling_level SMALLINT    NOT NULL CHECK (handling_level BETWEEN 1 AND 4),
    sla_class      SMALLINT    NOT NULL CHECK (sla_class BETWEEN 1 AND 3),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- The shared catalogue (intake seeds the same codes).
INSERT INTO routing_rules (category_code, handling_level, sla_class) VALUES
    ('neighbor_dispute', 4, 1),
    ('environment',      3, 1),
    ('public_security',  3, 1),
    ('elderly_care',     4, 1),
    ('consultation',     3, 1),
    ('municipal',        2, 1),
    ('land_housing',     2, 3),
    ('labor_wage',       2, 3),
    ('other',            3, 1);

-- Routing's view of a ticket: what discovery told it, and the lifecycle state it keeps to
-- check its own steps (gridloop_lifecycle::LoopState as JSON).
CREATE TABLE tickets (
    ticket_id     TEXT PRIMARY KEY,
    loop_state    JSONB       NOT NULL,
    category_code TEXT        NOT NULL DEFAULT '',
    category_name TEXT        NOT NULL DEFAULT '',
    urgency       SMALLINT    NOT NULL DEFAULT 0,
    sla_class     SMALLINT    NOT NULL DEFAULT 1,
    channel       SMALLINT    NOT NULL DEFAULT 0,
    content       TEXT        NOT NULL DEFAULT '',
    address       TEXT        NOT NULL DEFAULT '',
    grid_hint     TEXT        NOT NULL DEFAULT '',
    lat           DOUBLE PRECISION,
    lng           DOUBLE PRECISION,
    masked_phone  TEXT        NOT NULL DEFAULT '',
    citizen_key   TEXT        NOT NULL DEFAULT '',
    photo_urls    TEXT[]      NOT NULL DEFAULT '{}',
    attempt       INTEGER     NOT NULL DEFAULT 0,
    -- Set at the first dispatch and kept (closure judges "on time" against it).
    dispose_by    TIMESTAMPTZ,
    repeat_count  INTEGER     NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per dispatch (kind 1, HANDLE) or 督办 assignment (kind 2, SUPERVISE). `current`
-- marks the rows that stand now; older dispatches keep their last state as history.
-- state: gridloop.v1.TaskState; post: gridloop.v1.Post.
CREATE TABLE tasks (
    id               BIGSERIAL PRIMARY KEY,
    ticket_id        TEXT        NOT NULL REFERENCES tickets (ticket_id),
    kind             SMALLINT    NOT NULL CHECK (kind IN (1, 2)),
    state            SMALLINT    NOT NULL,
    current          BOOLEAN     NOT NULL DEFAULT true,
    grid_code        TEXT        NOT NULL REFERENCES grids (code),
    worker_id        UUID        NOT NULL REFERENCES workers (worker_id),
    post             SMALLINT    NOT NULL DEFAULT 0,
    reason           TEXT        NOT NULL DEFAULT '',
    attempt          INTEGER     NOT NULL DEFAULT 0,
    fallback_desk    BOOLEAN     NOT NULL DEFAULT false,
    dispatched_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    accepted_at      TIMESTAMPTZ,
    respond_by       TIMESTAMPTZ,
    dispose_by       TIMESTAMPTZ,
    rework_count     INTEGER     NOT NULL DEFAULT 0,
    supervision_note TEXT        NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX tasks_one_current_handle ON tasks (ticket_id) WHERE kind = 1 AND current;
CREATE INDEX tasks_worker ON tasks (worker_id, current, state);
CREATE INDEX tasks_grid ON tasks (grid_code);
