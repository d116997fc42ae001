-- Reports' own schema: one fact row per ticket (just what the aggregates need to be corrected
-- when a later event changes the ticket), the aggregates keyed by day x grid x category x
-- channel x worker, a histogram of handling times beside them, and the names learned from
-- events.

CREATE TABLE facts (
    ticket_id           UUID PRIMARY KEY,
    -- Null until `discovered` or `merged` arrives; such a ticket counts nowhere yet.
    received_at         TIMESTAMPTZ,
    -- received_at's date in Asia/Shanghai.
    received_day        DATE,
    -- Grid holding the ticket now (at closing for a closed ticket); '' when none is known.
    grid_code           TEXT COLLATE "C" NOT NULL DEFAULT '',
    worker_id           TEXT        NOT NULL DEFAULT '',
    category_code       TEXT        NOT NULL DEFAULT '',
    channel             SMALLINT    NOT NULL DEFAULT 0,
    dispatched          BOOLEAN     NOT NULL DEFAULT false,
    accepted_on_time    BOOLEAN     NOT NULL DEFAULT false,
    merged              BOOLEAN     NOT NULL DEFAULT false,
    disposed            BOOLEAN     NOT NULL DEFAULT false,
    reworked            BOOLEAN     NOT NULL DEFAULT false,
    overdue             BOOLEAN     NOT NULL DEFAULT false,
    closed              BOOLEAN     NOT NULL DEFAULT false,
    closed_on_time      BOOLEAN     NOT NULL DEFAULT false,
    closed_by_exemption BOOLEAN     NOT NULL DEFAULT false,
    closed_at           TIMESTAMPTZ,
    satisfied           INTEGER     NOT NULL DEFAULT 0,
    basically_satisfied INTEGER     NOT NULL DEFAULT 0,
    dissatisfied        INTEGER     NOT NULL DEFAULT 0,
    -- Working minutes from received_at to closed_at, once both are known.
    handling_minutes    INTEGER
);

-- Counts of the tickets received on `day` that stand at this grid, category, channel and
-- worker now. Rows are corrected (minus the old contribution, plus the new) as events arrive.
CREATE TABLE agg (
    day                 DATE        NOT NULL,
    grid_code           TEXT COLLATE "C" NOT NULL,
    category_code       TEXT        NOT NULL,
    channel             SMALLINT    NOT NULL,
    worker_id           TEXT        NOT NULL,
    received            BIGINT      NOT NULL DEFAULT 0,
    dispatched          BIGINT      NOT NULL DEFAULT 0,
    merged              BIGINT      NOT NULL DEFAULT 0,
    closed              BIGINT      NOT NULL DEFAULT 0,
    open_overdue        BIGINT      NOT NULL DEFAULT 0,
    accepted_on_time    BIGINT      NOT NULL DEFAULT 0,
    closed_on_time      BIGINT      NOT NULL DEFAULT 0,
    disposed            BIGINT      NOT NULL DEFAULT 0,
    reworked            BIGINT      NOT NULL DEFAULT 0,
    satisfied           BIGINT      NOT NULL DEFAULT 0,
    basically_satisfied BIGINT      NOT NULL DEFAULT 0,
    dissatisfied        BIGINT      NOT NULL DEFAULT 0,
    closed_by_exemption BIGINT      NOT NULL DEFAULT 0,
    handling_minutes    BIGINT      NOT NULL DEFAULT 0,
    PRIMARY KEY (day, grid_code, category_code, channel, worker_id)
);

-- Closed tickets per handling-time bucket of 6 working minutes (0.1 working hour), so the
-- p90 of any roll-up is exact at that resolution.
CREATE TABLE agg_hist (
    day           DATE        NOT NULL,
    grid_code     TEXT COLLATE "C" NOT NULL,
    category_code TEXT        NOT NULL,
    channel       SMALLINT    NOT NULL,
    worker_id     TEXT        NOT NULL,
    bucket        INTEGER     NOT NULL,
    n             BIGINT      NOT NULL DEFAULT 0,
    PRIMARY KEY (day, grid_code, category_code, channel, worker_id, bucket)
);

-- Names and levels of grids as routing's dispatches state them.
CREATE TABLE grids (
    code  TEXT COLLATE "C" PRIMARY KEY,
    level SMALLINT NOT NULL,
    name  TEXT     NOT NULL
);

-- Category names as discovery states them.
CREATE TABLE categories (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL
);

-- Time of the latest event applied; a report is exact up to it.
CREATE TABLE watermark (
    one   BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    as_of TIMESTAMPTZ NOT NULL
);
