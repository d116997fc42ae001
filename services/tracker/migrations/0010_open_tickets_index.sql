-- The open-tickets gauge (sampled every 30 s) counted through every ticket ever tracked, a
-- scan that grows with history; the open ones are a small set with an index of their own.
CREATE INDEX tickets_open ON tickets (ticket_id)
    WHERE NOT (loop_state->'state' ? 'closed' OR loop_state->'state' ? 'merged');
