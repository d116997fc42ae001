-- Urgencies (gridloop.v1.Urgency: a ticket's, and the one an SLA rule is for) and an SLA
-- rule's time units (gridloop.v1.TimeUnit) were stored as wire numbers; they are stored by
-- name from here on. A ticket's urgency was 0 when its channel gave none; that stays said, as
-- 'unspecified'. Every number written maps to a name; any other number makes the CASE yield
-- NULL, which the NOT NULL columns refuse, so the migration stops rather than lose the row's
-- meaning.
ALTER TABLE tickets ALTER COLUMN urgency DROP DEFAULT;
ALTER TABLE tickets ALTER COLUMN urgency TYPE text USING CASE urgency
    WHEN 0 THEN 'unspecified'
    WHEN 1 THEN 'general'
    WHEN 2 THEN 'urgent'
    WHEN 3 THEN 'complex'
END;
ALTER TABLE tickets
    ALTER COLUMN urgency SET DEFAULT 'unspecified',
    ADD CONSTRAINT tickets_urgency_check
        CHECK (urgency IN ('unspecified', 'general', 'urgent', 'complex'));

ALTER TABLE sla_rules
    DROP CONSTRAINT sla_rules_urgency_check,
    DROP CONSTRAINT sla_rules_respond_unit_check,
    DROP CONSTRAINT sla_rules_dispose_unit_check,
    DROP CONSTRAINT sla_rules_feedback_unit_check;
ALTER TABLE sla_rules
    ALTER COLUMN urgency TYPE text USING CASE urgency
        WHEN 1 THEN 'general'
        WHEN 2 THEN 'urgent'
        WHEN 3 THEN 'complex'
    END,
    ALTER COLUMN respond_unit TYPE text USING CASE respond_unit
        WHEN 1 THEN 'working_hours'
        WHEN 2 THEN 'working_days'
        WHEN 3 THEN 'calendar_hours'
        WHEN 4 THEN 'minutes'
    END,
    ALTER COLUMN dispose_unit TYPE text USING CASE dispose_unit
        WHEN 1 THEN 'working_hours'
        WHEN 2 THEN 'working_days'
        WHEN 3 THEN 'calendar_hours'
        WHEN 4 THEN 'minutes'
    END,
    ALTER COLUMN feedback_unit TYPE text USING CASE feedback_unit
        WHEN 1 THEN 'working_hours'
        WHEN 2 THEN 'working_days'
        WHEN 3 THEN 'calendar_hours'
        WHEN 4 THEN 'minutes'
    END;
ALTER TABLE sla_rules
    ADD CONSTRAINT sla_rules_urgency_check CHECK (urgency IN ('general', 'urgent', 'complex')),
    ADD CONSTRAINT sla_rules_respond_unit_check
        CHECK (respond_unit IN ('working_hours', 'working_days', 'calendar_hours', 'minutes')),
    ADD CONSTRAINT sla_rules_dispose_unit_check
        CHECK (dispose_unit IN ('working_hours', 'working_days', 'calendar_hours', 'minutes')),
    ADD CONSTRAINT sla_rules_feedback_unit_check
        CHECK (feedback_unit IN ('working_hours', 'working_days', 'calendar_hours', 'minutes'));
