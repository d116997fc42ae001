-- Grid levels (gridloop.v1.GridLevel) were stored as wire numbers in grids, escalations and
-- tickets (the holding grid's level and the level supervising so far, 0 for none yet); they
-- are stored by name from here on, 'none' standing for that 0. Every number written maps to
-- a name; any other number makes the CASE yield NULL, which the NOT NULL columns refuse, so
-- the migration stops rather than lose the row's meaning.
ALTER TABLE grids ALTER COLUMN level TYPE text USING CASE level
    WHEN 1 THEN 'county'
    WHEN 2 THEN 'town'
    WHEN 3 THEN 'village'
    WHEN 4 THEN 'group'
END;
ALTER TABLE grids ADD CONSTRAINT grids_level_check
    CHECK (level IN ('county', 'town', 'village', 'group'));

ALTER TABLE escalations ALTER COLUMN level TYPE text USING CASE level
    WHEN 1 THEN 'county'
    WHEN 2 THEN 'town'
    WHEN 3 THEN 'village'
    WHEN 4 THEN 'group'
END;
ALTER TABLE escalations ADD CONSTRAINT escalations_level_check
    CHECK (level IN ('county', 'town', 'village', 'group'));

ALTER TABLE tickets
    ALTER COLUMN grid_level DROP DEFAULT,
    ALTER COLUMN escalation_level DROP DEFAULT;
ALTER TABLE tickets
    ALTER COLUMN grid_level TYPE text USING CASE grid_level
        WHEN 0 THEN 'none'
        WHEN 1 THEN 'county'
        WHEN 2 THEN 'town'
        WHEN 3 THEN 'village'
        WHEN 4 THEN 'group'
    END,
    ALTER COLUMN escalation_level TYPE text USING CASE escalation_level
        WHEN 0 THEN 'none'
        WHEN 1 THEN 'county'
        WHEN 2 THEN 'town'
        WHEN 3 THEN 'village'
        WHEN 4 THEN 'group'
    END;
ALTER TABLE tickets
    ALTER COLUMN grid_level SET DEFAULT 'none',
    ALTER COLUMN escalation_level SET DEFAULT 'none',
    ADD CONSTRAINT tickets_grid_level_check
        CHECK (grid_level IN ('none', 'county', 'town', 'village', 'group')),
    ADD CONSTRAINT tickets_escalation_level_check
        CHECK (escalation_level IN ('none', 'county', 'town', 'village', 'group'));
