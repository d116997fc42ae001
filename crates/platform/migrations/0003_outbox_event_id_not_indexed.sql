-- Event ids are fresh UUIDv7s made by `outbox::new_event`, unique by construction, and nothing
-- looks a row up by event id (the stream deduplicates by it, consumers' inboxes key on it).
-- Its unique index was one more index write per event and another when the relay marks the
-- row sent.
ALTER TABLE outbox DROP CONSTRAINT outbox_event_id_key;
