-- gridloop's own steps (an overdue clock firing, an escalation) are recorded with the role
-- SYSTEM. 0008 listed every role but that one, so those steps were stored as 'unspecified';
-- from now on they are stored as 'system' (the rows already written cannot be told apart).
ALTER TABLE timeline DROP CONSTRAINT timeline_actor_role_check,
    ADD CONSTRAINT timeline_actor_role_check CHECK (actor_role IN ('unspecified', 'operator', 'worker', 'supervisor', 'leader', 'admin', 'service', 'citizen', 'system'));
