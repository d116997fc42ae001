-- What the test handler records for every event it applies; no unique constraint, so a
-- double application would show up as a second row.
CREATE TABLE applied (
    seq       BIGSERIAL PRIMARY KEY,
    event_id  TEXT NOT NULL,
    ticket_id TEXT NOT NULL
);
