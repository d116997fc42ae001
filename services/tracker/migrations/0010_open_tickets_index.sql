-- The open-tickets gauge (sampled every 30 s) counted through every ticket ever tracked, a
-- scan that grows with history. The open ones are a small set: a stored flag says which, and a
-- partial index holds them. (An index on the JSON expression itself is not used: the planner
-- cannot estimate how few rows it selects.)
ALTER TABLE tickets ADD COLUMN open BOOLEAN
    GENERATED ALWAYS AS (NOT (loop_state->'state' ? 'closed' OR loop_state->'state' ? 'merged')) STORED;
CREATE INDEX tickets_open ON tickets (ticket_id) WHERE open;
