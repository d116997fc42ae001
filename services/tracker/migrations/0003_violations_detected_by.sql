-- Violations come from every service now: the tracker's own lifecycle verdicts and the events
-- another service could not apply to its view (reported on the stream as `ticket.violation`
-- naming that service). The same event refused by two services is two records.
ALTER TABLE violations ADD COLUMN detected_by text NOT NULL DEFAULT 'tracker';
ALTER TABLE violations DROP CONSTRAINT violations_event_id_key;
ALTER TABLE violations ADD CONSTRAINT violations_event_detected_key UNIQUE (event_id, detected_by);
