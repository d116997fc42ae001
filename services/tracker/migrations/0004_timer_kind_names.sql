-- A clock's kind was stored as the wire number of gridloop.v1.DeadlineKind; a renumbered
-- proto would have silently changed what old rows mean. It is stored by name from here on.
-- Every number ever written (the old CHECK allowed 1 to 3) maps to a name; any other number
-- makes the CASE yield NULL, which the NOT NULL column refuses, so the migration stops rather
-- than lose the row's meaning. timers_one_live names no number and is rebuilt as it was.
ALTER TABLE timers DROP CONSTRAINT timers_kind_check;
ALTER TABLE timers ALTER COLUMN kind TYPE text USING CASE kind
    WHEN 1 THEN 'respond'
    WHEN 2 THEN 'dispose'
    WHEN 3 THEN 'feedback'
END;
ALTER TABLE timers ADD CONSTRAINT timers_kind_check
    CHECK (kind IN ('respond', 'dispose', 'feedback'));

-- "Has this ticket ever had a clock of this kind" and "the latest clock of each kind" read
-- every clock of a ticket, met or stopped; timers_one_live holds only the live ones.
CREATE INDEX timers_by_ticket ON timers (ticket_id, kind, id DESC);
