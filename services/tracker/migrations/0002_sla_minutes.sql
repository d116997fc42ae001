-- Limits in clock minutes (TimeUnit 4, TIME_UNIT_MINUTES): urgent matters such as a safety
-- hazard (治安隐患) are answered within minutes, not hours. Units are now 1 working hours,
-- 2 working days, 3 calendar hours, 4 calendar minutes.
ALTER TABLE sla_rules
    DROP CONSTRAINT sla_rules_respond_unit_check,
    DROP CONSTRAINT sla_rules_dispose_unit_check,
    DROP CONSTRAINT sla_rules_feedback_unit_check,
    ADD CONSTRAINT sla_rules_respond_unit_check CHECK (respond_unit BETWEEN 1 AND 4),
    ADD CONSTRAINT sla_rules_dispose_unit_check CHECK (dispose_unit BETWEEN 1 AND 4),
    ADD CONSTRAINT sla_rules_feedback_unit_check CHECK (feedback_unit BETWEEN 1 AND 4);
