-- Grid levels, worker roles, urgencies (a ticket's own and the SLA classes) and channels were
-- stored as wire numbers (gridloop.v1.GridLevel, WorkerRole, Urgency, Channel); they are
-- stored by name from here on, as tasks' columns are since 0006. Every number ever written
-- maps to a name; any other number makes the CASE yield NULL, which NOT NULL refuses, so the
-- migration stops rather than lose the row's meaning. A ticket's urgency and channel were 0
-- when discovery did not say; that stays said, as 'unspecified'.
ALTER TABLE grids DROP CONSTRAINT grids_level_check, DROP CONSTRAINT grids_check;
ALTER TABLE grids ALTER COLUMN level TYPE TEXT USING CASE level
    WHEN 1 THEN 'county'
    WHEN 2 THEN 'town'
    WHEN 3 THEN 'village'
    WHEN 4 THEN 'group'
END;
ALTER TABLE grids
    ADD CONSTRAINT grids_level_check CHECK (level IN ('county', 'town', 'village', 'group')),
    ADD CONSTRAINT grids_check CHECK ((level = 'county') = (parent_code IS NULL));

ALTER TABLE workers DROP CONSTRAINT workers_role_check;
ALTER TABLE workers ALTER COLUMN role TYPE TEXT USING CASE role
    WHEN 1 THEN 'grid_chief'
    WHEN 2 THEN 'grid_worker'
    WHEN 3 THEN 'grid_assistant'
END;
ALTER TABLE workers ADD CONSTRAINT workers_role_check
    CHECK (role IN ('grid_chief', 'grid_worker', 'grid_assistant'));

ALTER TABLE routing_rules
    DROP CONSTRAINT routing_rules_handling_level_check,
    DROP CONSTRAINT routing_rules_sla_class_check;
ALTER TABLE routing_rules
    ALTER COLUMN handling_level TYPE TEXT USING CASE handling_level
        WHEN 1 THEN 'county'
        WHEN 2 THEN 'town'
        WHEN 3 THEN 'village'
        WHEN 4 THEN 'group'
    END,
    ALTER COLUMN sla_class TYPE TEXT USING CASE sla_class
        WHEN 1 THEN 'general'
        WHEN 2 THEN 'urgent'
        WHEN 3 THEN 'complex'
    END;
ALTER TABLE routing_rules
    ADD CONSTRAINT routing_rules_handling_level_check
        CHECK (handling_level IN ('county', 'town', 'village', 'group')),
    ADD CONSTRAINT routing_rules_sla_class_check
        CHECK (sla_class IN ('general', 'urgent', 'complex'));

ALTER TABLE tickets
    ALTER COLUMN urgency DROP DEFAULT,
    ALTER COLUMN sla_class DROP DEFAULT,
    ALTER COLUMN channel DROP DEFAULT;
ALTER TABLE tickets
    ALTER COLUMN urgency TYPE TEXT USING CASE urgency
        WHEN 0 THEN 'unspecified'
        WHEN 1 THEN 'general'
        WHEN 2 THEN 'urgent'
        WHEN 3 THEN 'complex'
    END,
    ALTER COLUMN sla_class TYPE TEXT USING CASE sla_class
        WHEN 1 THEN 'general'
        WHEN 2 THEN 'urgent'
        WHEN 3 THEN 'complex'
    END,
    ALTER COLUMN channel TYPE TEXT USING CASE channel
        WHEN 0 THEN 'unspecified'
        WHEN 1 THEN 'hotline_12345'
        WHEN 2 THEN 'one_key_call'
        WHEN 3 THEN 'app'
        WHEN 4 THEN 'mailbox'
        WHEN 5 THEN 'web'
        WHEN 6 THEN 'patrol'
    END;
ALTER TABLE tickets
    ALTER COLUMN urgency SET DEFAULT 'unspecified',
    ALTER COLUMN sla_class SET DEFAULT 'general',
    ALTER COLUMN channel SET DEFAULT 'unspecified',
    ADD CONSTRAINT tickets_urgency_check
        CHECK (urgency IN ('unspecified', 'general', 'urgent', 'complex')),
    ADD CONSTRAINT tickets_sla_class_check CHECK (sla_class IN ('general', 'urgent', 'complex')),
    ADD CONSTRAINT tickets_channel_check
        CHECK (channel IN ('unspecified', 'hotline_12345', 'one_key_call', 'app', 'mailbox', 'web',
            'patrol'));
