-- Disposal types (gridloop.v1.DisposalType), ratings (Rating), feedback sources
-- (FeedbackSource) and actor roles (ActorRole) were stored as wire numbers; they are stored by
-- name from here on. 0 is a value nobody gave (an unreached callback has no rating); that
-- stays said, as 'unspecified'. Every number written maps to a name; any other number makes
-- the CASE yield NULL, which the NOT NULL columns refuse, so the migration stops rather than
-- lose the row's meaning.
ALTER TABLE disposals ALTER COLUMN disposal_type TYPE text USING CASE disposal_type
    WHEN 0 THEN 'unspecified'
    WHEN 1 THEN 'resolved'
    WHEN 2 THEN 'explained'
    WHEN 3 THEN 'unresolvable'
END;
ALTER TABLE disposals ADD CONSTRAINT disposals_disposal_type_check CHECK (disposal_type IN
    ('unspecified', 'resolved', 'explained', 'unresolvable'));

ALTER TABLE feedback
    ALTER COLUMN rating TYPE text USING CASE rating
        WHEN 0 THEN 'unspecified'
        WHEN 1 THEN 'satisfied'
        WHEN 2 THEN 'basically_satisfied'
        WHEN 3 THEN 'dissatisfied'
    END,
    ALTER COLUMN source TYPE text USING CASE source
        WHEN 0 THEN 'unspecified'
        WHEN 1 THEN 'citizen'
        WHEN 2 THEN 'callback'
    END,
    ALTER COLUMN actor_role TYPE text USING CASE actor_role
        WHEN 0 THEN 'unspecified'
        WHEN 1 THEN 'operator'
        WHEN 2 THEN 'worker'
        WHEN 3 THEN 'supervisor'
        WHEN 4 THEN 'leader'
        WHEN 5 THEN 'admin'
        WHEN 6 THEN 'service'
        WHEN 7 THEN 'citizen'
    END;
ALTER TABLE feedback
    ADD CONSTRAINT feedback_rating_check CHECK (rating IN
        ('unspecified', 'satisfied', 'basically_satisfied', 'dissatisfied')),
    ADD CONSTRAINT feedback_source_check CHECK (source IN ('unspecified', 'citizen', 'callback')),
    ADD CONSTRAINT feedback_actor_role_check CHECK (actor_role IN ('unspecified', 'operator',
        'worker', 'supervisor', 'leader', 'admin', 'service', 'citizen'));
