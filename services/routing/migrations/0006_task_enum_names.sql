-- A task's kind, state and post were stored as the wire numbers of gridloop.v1.TaskKind,
-- TaskState and Post; a renumbered proto would have silently changed what old rows mean.
-- They are stored by name from here on. Every number ever written maps to a name; any other
-- number makes the CASE yield NULL, which the NOT NULL column refuses, so the migration stops
-- rather than lose the row's meaning. The partial index whose predicate named kind 1 is made
-- again over the name.
DROP INDEX tasks_one_current_handle;
ALTER TABLE tasks DROP CONSTRAINT tasks_kind_check;

ALTER TABLE tasks ALTER COLUMN post DROP DEFAULT;
ALTER TABLE tasks
    ALTER COLUMN kind TYPE TEXT USING CASE kind
        WHEN 1 THEN 'handle'
        WHEN 2 THEN 'supervise'
    END,
    ALTER COLUMN state TYPE TEXT USING CASE state
        WHEN 1 THEN 'pending_accept'
        WHEN 2 THEN 'accepted'
        WHEN 3 THEN 'disposed'
        WHEN 4 THEN 'returned'
        WHEN 5 THEN 'transferred'
        WHEN 6 THEN 'closed'
    END,
    -- 0: no post (a 督办 task, or the fallback desk).
    ALTER COLUMN post TYPE TEXT USING CASE post
        WHEN 0 THEN 'none'
        WHEN 1 THEN 'a'
        WHEN 2 THEN 'b'
    END;
ALTER TABLE tasks ALTER COLUMN post SET DEFAULT 'none';

ALTER TABLE tasks
    ADD CONSTRAINT tasks_kind_check CHECK (kind IN ('handle', 'supervise')),
    ADD CONSTRAINT tasks_state_check CHECK (state IN
        ('pending_accept', 'accepted', 'disposed', 'returned', 'transferred', 'closed')),
    ADD CONSTRAINT tasks_post_check CHECK (post IN ('none', 'a', 'b'));

CREATE UNIQUE INDEX tasks_one_current_handle ON tasks (ticket_id)
    WHERE kind = 'handle' AND current;
-- Retiring a ticket's standing rows (`WHERE ticket_id = $1 AND current`, any kind) cannot
-- use tasks_one_current_handle, whose predicate also names the kind.
CREATE INDEX tasks_current_by_ticket ON tasks (ticket_id) WHERE current;

-- The open-task counter's trigger named the numbers too; the same rule, over the names.
CREATE OR REPLACE FUNCTION count_open_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_open BOOLEAN := false;
    is_open  BOOLEAN := false;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        was_open := OLD.kind = 'handle' AND OLD.current
            AND OLD.state IN ('pending_accept', 'accepted');
    END IF;
    IF TG_OP <> 'DELETE' THEN
        is_open := NEW.kind = 'handle' AND NEW.current
            AND NEW.state IN ('pending_accept', 'accepted');
    END IF;
    IF was_open AND is_open AND OLD.worker_id = NEW.worker_id THEN
        RETURN NULL;
    END IF;
    IF was_open THEN
        UPDATE workers SET open_tasks = open_tasks - 1 WHERE worker_id = OLD.worker_id;
    END IF;
    IF is_open THEN
        UPDATE workers SET open_tasks = open_tasks + 1 WHERE worker_id = NEW.worker_id;
    END IF;
    RETURN NULL;
END $$;
