-- AB posts, disposal types and the trigger a waiting ticket's re-dispatch carries were stored
-- as wire numbers (gridloop.v1.Post, DisposalType, DispatchTrigger); they are stored by name
-- from here on, as tasks' columns are since 0006. Every number ever written maps to a name;
-- any other number makes the CASE yield NULL, which NOT NULL or the new CHECK refuses, so the
-- migration stops rather than lose the row's meaning.
ALTER TABLE posts DROP CONSTRAINT posts_post_check;
ALTER TABLE posts ALTER COLUMN post TYPE TEXT USING CASE post
    WHEN 1 THEN 'a'
    WHEN 2 THEN 'b'
END;
ALTER TABLE posts ADD CONSTRAINT posts_post_check CHECK (post IN ('a', 'b'));

ALTER TABLE disposals DROP CONSTRAINT disposals_disposal_type_check;
ALTER TABLE disposals ALTER COLUMN disposal_type TYPE TEXT USING CASE disposal_type
    WHEN 1 THEN 'resolved'
    WHEN 2 THEN 'explained'
    WHEN 3 THEN 'unresolvable'
END;
ALTER TABLE disposals ADD CONSTRAINT disposals_disposal_type_check
    CHECK (disposal_type IN ('resolved', 'explained', 'unresolvable'));

-- Nullable: NULL while the ticket is not waiting. A number that maps to no name becomes
-- 'unknown', which the CHECK refuses, so it too stops the migration.
ALTER TABLE tickets ALTER COLUMN waiting_trigger TYPE TEXT USING CASE
    WHEN waiting_trigger IS NULL THEN NULL
    WHEN waiting_trigger = 1 THEN 'discovered'
    WHEN waiting_trigger = 2 THEN 'returned'
    WHEN waiting_trigger = 3 THEN 'transferred'
    WHEN waiting_trigger = 4 THEN 'reopened'
    ELSE 'unknown'
END;
ALTER TABLE tickets ADD CONSTRAINT tickets_waiting_trigger_check
    CHECK (waiting_trigger IN ('discovered', 'returned', 'transferred', 'reopened'));
