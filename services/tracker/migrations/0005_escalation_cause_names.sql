-- An escalation's cause was stored as the wire number of gridloop.v1.EscalationCause; it is
-- stored by name from here on, as clocks' kinds are since 0004. Every number written (the
-- tracker records overdue and repeat-complaint escalations only) maps to a name; any other
-- number makes the CASE yield NULL, which the NOT NULL column refuses, so the migration stops
-- rather than lose the row's meaning.
ALTER TABLE escalations ALTER COLUMN cause TYPE text USING CASE cause
    WHEN 1 THEN 'overdue'
    WHEN 2 THEN 'repeat_complaint'
END;
ALTER TABLE escalations ADD CONSTRAINT escalations_cause_check
    CHECK (cause IN ('overdue', 'repeat_complaint'));
