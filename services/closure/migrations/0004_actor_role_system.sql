-- Every actor role, SYSTEM (gridloop's own steps) included, which 0002 left out.
ALTER TABLE feedback DROP CONSTRAINT feedback_actor_role_check,
    ADD CONSTRAINT feedback_actor_role_check CHECK (actor_role IN ('unspecified', 'operator', 'worker', 'supervisor', 'leader', 'admin', 'service', 'citizen', 'system'));
