-- Intake's own tables: the category catalogue, the one-key device registry and tickets as
-- received. Phone numbers and names live here and nowhere else in gridloop.

-- Urgency and SLA class use the proto's Urgency numbers (1 GENERAL, 2 URGENT, 3 COMPLEX).
CREATE TABLE categories (
    code            TEXT        PRIMARY KEY,
    name            TEXT        NOT NULL,
    default_urgency SMALLINT    NOT NULL CHECK (default_urgency BETWEEN 1 AND 3),
    sla_class       SMALLINT    NOT NULL CHECK (sla_class BETWEEN 1 AND 3),
    active          BOOLEAN     NOT NULL DEFAULT true,
    display_order   INTEGER     NOT NULL DEFAULT 0,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The shared codes: routing seeds its rules for exactly these (keep both lists in step).
INSERT INTO categories (code, name, default_urgency, sla_class, display_order) VALUES
    ('neighbor_dispute', '邻里纠纷', 1, 1, 10),
    ('environment',      '环境卫生', 1, 1, 20),
    ('public_security',  '治安隐患', 2, 2, 30),
    ('elderly_care',     '养老助残', 1, 1, 40),
    ('consultation',     '政策咨询', 1, 1, 50),
    ('municipal',        '市政设施', 1, 1, 60),
    ('land_housing',     '土地房屋', 1, 3, 70),
    ('labor_wage',       '劳动欠薪', 1, 3, 80),
    ('other',            '其他',     1, 1, 90);

-- One-key call devices. household_key is opaque and stable for the device's life.
CREATE TABLE devices (
    device_id           TEXT        PRIMARY KEY,
    household_key       TEXT        NOT NULL,
    address             TEXT        NOT NULL,
    grid_code           TEXT        NOT NULL,
    contact_phone       TEXT        NOT NULL,
    contact_name        TEXT        NOT NULL,
    flags               SMALLINT[]  NOT NULL DEFAULT '{}',
    lat                 DOUBLE PRECISION,
    lng                 DOUBLE PRECISION,
    active              BOOLEAN     NOT NULL DEFAULT true,
    registered_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    deactivated_at      TIMESTAMPTZ,
    deactivation_reason TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX devices_by_grid ON devices (grid_code, device_id);

-- Tickets as received. state is intake's own view: DISCOVERED until merged into another
-- ticket; intake consumes no events, so it never sees a ticket move further.
CREATE TABLE tickets (
    ticket_id         UUID        PRIMARY KEY,
    channel           SMALLINT    NOT NULL,
    external_id       TEXT        NOT NULL,
    state             TEXT        NOT NULL CHECK (state IN ('DISCOVERED', 'MERGED')),
    parent_ticket_id  UUID        REFERENCES tickets (ticket_id),
    repeat_count      INTEGER     NOT NULL DEFAULT 0,
    category_code     TEXT        NOT NULL REFERENCES categories (code),
    urgency           SMALLINT    NOT NULL,
    content           TEXT        NOT NULL,
    phone             TEXT,
    contact_name      TEXT,
    masked_phone      TEXT        NOT NULL DEFAULT '',
    citizen_key       TEXT,
    household_key     TEXT,
    device_id         TEXT,
    household_flags   SMALLINT[]  NOT NULL DEFAULT '{}',
    address           TEXT        NOT NULL DEFAULT '',
    grid_code         TEXT        NOT NULL DEFAULT '',
    lat               DOUBLE PRECISION,
    lng               DOUBLE PRECISION,
    photo_urls        TEXT[]      NOT NULL DEFAULT '{}',
    recording_url     TEXT        NOT NULL DEFAULT '',
    submitted_by      TEXT        NOT NULL DEFAULT '',
    submitted_by_role SMALLINT    NOT NULL DEFAULT 0,
    received_at       TIMESTAMPTZ NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The idempotency key: retries of one submission find this row.
    CONSTRAINT tickets_channel_external_id UNIQUE (channel, external_id),
    CHECK ((state = 'MERGED') = (parent_ticket_id IS NOT NULL))
);
-- Repeat-complaint lookups: open tickets of a citizen or household in a category.
CREATE INDEX tickets_open_by_citizen ON tickets (citizen_key, category_code, received_at)
    WHERE state = 'DISCOVERED' AND citizen_key IS NOT NULL;
CREATE INDEX tickets_open_by_household ON tickets (household_key, category_code, received_at)
    WHERE state = 'DISCOVERED' AND household_key IS NOT NULL;
CREATE INDEX tickets_by_citizen ON tickets (citizen_key, received_at DESC);
CREATE INDEX tickets_by_parent ON tickets (parent_ticket_id, received_at)
    WHERE parent_ticket_id IS NOT NULL;
