-- Every actor role, SYSTEM (gridloop's own steps) included, which 0005 left out.
ALTER TABLE tickets DROP CONSTRAINT tickets_submitted_by_role_check,
    ADD CONSTRAINT tickets_submitted_by_role_check CHECK (submitted_by_role IN ('unspecified', 'operator', 'worker', 'supervisor', 'leader', 'admin', 'service', 'citizen', 'system'));
