-- Records a batch of submissions, in order, inside the caller's transaction; the caller writes
-- their events to the outbox in the same transaction (the events are protobuf, built in Rust).
--
-- Why a function: a submission needs its submitter's advisory locks *before* the lookups that
-- decide between replay, merge and a new ticket, and a single SQL statement reads one snapshot
-- taken before its locks. Inside a volatile PL/pgSQL function every statement takes a fresh
-- snapshot, so the whole batch is one round trip instead of several per submission; per-
-- round-trip and per-commit costs, not row work, were what limited intake's throughput.
--
-- p_items: a JSON array of ticket rows (column names of `tickets`); state, parent_ticket_id and
-- repeat_count are decided here. Answers come back one per item, `item` being its 1-based
-- position:
--   CREATED           ticket = the new ticket
--   MERGED            ticket = the new ticket, parent = the open ticket it repeats,
--                     repeats = the parent's repeat count after this one
--   REPLAYED          (channel, external_id) was accepted before: ticket and parent as stored,
--                     repeats = the count of the ticket followed (the parent's when merged)
--   CATEGORY_RETIRED  the category is no longer active; nothing was written for this item
--
-- Locks: every citizen and household key of the batch is locked up front, in hash order, so
-- batches running at the same time never wait on each other in a cycle; a later item of the
-- same batch sees the earlier ones (same transaction), so repeats inside one batch merge too.
CREATE FUNCTION submit_batch(p_items jsonb, p_window interval)
RETURNS TABLE (item bigint, outcome text, ticket uuid, parent uuid, urgency_code smallint,
               repeats integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    r record;
    lock_key bigint;
BEGIN
    FOR lock_key IN
        SELECT DISTINCT hashtextextended(k.key, 0)
        FROM jsonb_populate_recordset(NULL::tickets, p_items) AS i,
             LATERAL (VALUES ('intake/citizen/' || i.citizen_key),
                             ('intake/household/' || i.household_key)) AS k(key)
        WHERE k.key IS NOT NULL
        ORDER BY 1
    LOOP
        PERFORM pg_advisory_xact_lock(lock_key);
    END LOOP;

    FOR r IN SELECT * FROM jsonb_populate_recordset(NULL::tickets, p_items) WITH ORDINALITY LOOP
        item := r.ordinality;

        -- A retry of a submission accepted before gets the first answer again.
        SELECT t.ticket_id, t.parent_ticket_id, t.urgency,
               CASE WHEN t.parent_ticket_id IS NULL THEN t.repeat_count ELSE p.repeat_count END
          INTO ticket, parent, urgency_code, repeats
          FROM tickets t LEFT JOIN tickets p ON p.ticket_id = t.parent_ticket_id
         WHERE t.channel = r.channel AND t.external_id = r.external_id;
        IF FOUND THEN
            outcome := 'REPLAYED';
            RETURN NEXT;
            CONTINUE;
        END IF;

        -- Retired since the service last read its catalogue (e.g. through another replica).
        IF NOT EXISTS (SELECT 1 FROM categories c WHERE c.code = r.category_code AND c.active) THEN
            outcome := 'CATEGORY_RETIRED';
            ticket := NULL; parent := NULL; urgency_code := r.urgency; repeats := 0;
            RETURN NEXT;
            CONTINUE;
        END IF;

        -- The earliest open ticket (intake's view: not merged, received within the window) of
        -- the same citizen or household in the same category, locked before the insert.
        SELECT t.ticket_id INTO parent
          FROM tickets t
         WHERE t.state = 'DISCOVERED' AND t.category_code = r.category_code
           AND t.received_at >= now() - p_window
           AND ((t.citizen_key IS NOT NULL AND t.citizen_key = r.citizen_key)
             OR (t.household_key IS NOT NULL AND t.household_key = r.household_key))
         ORDER BY t.received_at, t.ticket_id
         LIMIT 1
           FOR UPDATE;

        INSERT INTO tickets (ticket_id, channel, external_id, state, parent_ticket_id,
            category_code, urgency, content, phone, contact_name, masked_phone, citizen_key,
            household_key, device_id, household_flags, address, grid_code, lat, lng,
            photo_urls, recording_url, submitted_by, submitted_by_role, received_at)
        VALUES (r.ticket_id, r.channel, r.external_id,
            CASE WHEN parent IS NULL THEN 'DISCOVERED' ELSE 'MERGED' END, parent,
            r.category_code, r.urgency, r.content, r.phone, r.contact_name, r.masked_phone,
            r.citizen_key, r.household_key, r.device_id, r.household_flags, r.address,
            r.grid_code, r.lat, r.lng, r.photo_urls, r.recording_url, r.submitted_by,
            r.submitted_by_role, r.received_at)
        ON CONFLICT (channel, external_id) DO NOTHING;

        IF NOT FOUND THEN
            -- A concurrent twin (another batch) committed this key first: its answer.
            SELECT t.ticket_id, t.parent_ticket_id, t.urgency,
                   CASE WHEN t.parent_ticket_id IS NULL THEN t.repeat_count ELSE p.repeat_count END
              INTO STRICT ticket, parent, urgency_code, repeats
              FROM tickets t LEFT JOIN tickets p ON p.ticket_id = t.parent_ticket_id
             WHERE t.channel = r.channel AND t.external_id = r.external_id;
            outcome := 'REPLAYED';
            RETURN NEXT;
            CONTINUE;
        END IF;

        ticket := r.ticket_id;
        urgency_code := r.urgency;
        IF parent IS NULL THEN
            outcome := 'CREATED';
            repeats := 0;
        ELSE
            UPDATE tickets t SET repeat_count = t.repeat_count + 1
             WHERE t.ticket_id = parent
            RETURNING t.repeat_count INTO repeats;
            outcome := 'MERGED';
        END IF;
        RETURN NEXT;
    END LOOP;
END $$;
