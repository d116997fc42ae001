-- The timeline's and violations' lifecycle states (gridloop.v1.LifecycleState) and the
-- timeline's actor roles (gridloop.v1.ActorRole) were stored as wire numbers; they are stored
-- by name from here on. 0 is a state or role nobody gave (a ticket's first event starts from
-- none); that stays said, as 'unspecified'. Every number written maps to a name; any other
-- number makes the CASE yield NULL, which the NOT NULL columns refuse, so the migration stops
-- rather than lose the audit trail's meaning.
ALTER TABLE timeline ALTER COLUMN actor_role DROP DEFAULT;
ALTER TABLE timeline
    ALTER COLUMN actor_role TYPE text USING CASE actor_role
        WHEN 0 THEN 'unspecified'
        WHEN 1 THEN 'operator'
        WHEN 2 THEN 'worker'
        WHEN 3 THEN 'supervisor'
        WHEN 4 THEN 'leader'
        WHEN 5 THEN 'admin'
        WHEN 6 THEN 'service'
        WHEN 7 THEN 'citizen'
    END,
    ALTER COLUMN from_state TYPE text USING CASE from_state
        WHEN 0 THEN 'unspecified'
        WHEN 1 THEN 'discovered'
        WHEN 2 THEN 'reported'
        WHEN 3 THEN 'disposed'
        WHEN 4 THEN 'feedback'
        WHEN 5 THEN 'closed'
        WHEN 6 THEN 'merged'
    END,
    ALTER COLUMN to_state TYPE text USING CASE to_state
        WHEN 0 THEN 'unspecified'
        WHEN 1 THEN 'discovered'
        WHEN 2 THEN 'reported'
        WHEN 3 THEN 'disposed'
        WHEN 4 THEN 'feedback'
        WHEN 5 THEN 'closed'
        WHEN 6 THEN 'merged'
    END;
ALTER TABLE timeline
    ALTER COLUMN actor_role SET DEFAULT 'unspecified',
    ADD CONSTRAINT timeline_actor_role_check CHECK (actor_role IN ('unspecified', 'operator',
        'worker', 'supervisor', 'leader', 'admin', 'service', 'citizen')),
    ADD CONSTRAINT timeline_from_state_check CHECK (from_state IN ('unspecified', 'discovered',
        'reported', 'disposed', 'feedback', 'closed', 'merged')),
    ADD CONSTRAINT timeline_to_state_check CHECK (to_state IN ('unspecified', 'discovered',
        'reported', 'disposed', 'feedback', 'closed', 'merged'));

ALTER TABLE violations ALTER COLUMN from_state TYPE text USING CASE from_state
    WHEN 0 THEN 'unspecified'
    WHEN 1 THEN 'discovered'
    WHEN 2 THEN 'reported'
    WHEN 3 THEN 'disposed'
    WHEN 4 THEN 'feedback'
    WHEN 5 THEN 'closed'
    WHEN 6 THEN 'merged'
END;
ALTER TABLE violations ADD CONSTRAINT violations_from_state_check CHECK (from_state IN
    ('unspecified', 'discovered', 'reported', 'disposed', 'feedback', 'closed', 'merged'));
