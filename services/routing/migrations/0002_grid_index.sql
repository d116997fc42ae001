-- Dispatch decides from an in-memory index of the grid tree and the routing rules. Every
-- replica keeps its own copy; this counter tells them when it is stale. It is bumped by the
-- statement triggers below, so any write to grids or rules (RPC, import, or plain SQL) bumps
-- it in the same transaction.
CREATE TABLE grid_version (
    one     BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    version BIGINT  NOT NULL DEFAULT 1
);
INSERT INTO grid_version DEFAULT VALUES;

CREATE FUNCTION bump_grid_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE grid_version SET version = version + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER grids_bump_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON grids
    FOR EACH STATEMENT EXECUTE FUNCTION bump_grid_version();
CREATE TRIGGER routing_rules_bump_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON routing_rules FOR EACH STATEMENT EXECUTE FUNCTION bump_grid_version();

-- Open HANDLE tasks per worker (waiting for 签收 or accepted, not yet disposed), kept by a
-- trigger on every task write so the dispatch reads availability from the worker's row: one
-- query for all candidates, and `FOR UPDATE` on the chosen worker returns the count as of
-- the lock, which closes the capacity race between concurrent dispatches.
ALTER TABLE workers ADD COLUMN open_tasks INTEGER NOT NULL DEFAULT 0;
UPDATE workers w SET open_tasks = (SELECT count(*) FROM tasks t WHERE t.worker_id = w.worker_id
    AND t.kind = 1 AND t.current AND t.state IN (1, 2));

CREATE FUNCTION count_open_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_open BOOLEAN := false;
    is_open  BOOLEAN := false;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        was_open := OLD.kind = 1 AND OLD.current AND OLD.state IN (1, 2);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        is_open := NEW.kind = 1 AND NEW.current AND NEW.state IN (1, 2);
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

CREATE TRIGGER tasks_count_open AFTER INSERT OR UPDATE OR DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION count_open_tasks();
