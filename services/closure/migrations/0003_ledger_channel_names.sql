-- Channels (gridloop.v1.Channel) in tickets and the ledger, and the ledger's rating (Rating)
-- and exemption kind (ExemptionKind), were stored as wire numbers; they are stored by name
-- from here on, as disposals and feedback are since 0002. 0 is a channel nobody gave; that
-- stays said, as 'unspecified'. A ledger entry's rating or exemption kind is NULL when its
-- basis is the other; a number no name stands for becomes 'unknown', which the CHECKs refuse,
-- so the migration stops rather than lose the row's meaning. The ledger is append-only for
-- rows; changing a column's type rewrites the table without updating any row.
ALTER TABLE tickets ALTER COLUMN channel DROP DEFAULT;
ALTER TABLE tickets ALTER COLUMN channel TYPE text USING CASE channel
    WHEN 0 THEN 'unspecified'
    WHEN 1 THEN 'hotline_12345'
    WHEN 2 THEN 'one_key_call'
    WHEN 3 THEN 'app'
    WHEN 4 THEN 'mailbox'
    WHEN 5 THEN 'web'
    WHEN 6 THEN 'patrol'
    ELSE 'unknown'
END;
ALTER TABLE tickets
    ALTER COLUMN channel SET DEFAULT 'unspecified',
    ADD CONSTRAINT tickets_channel_check CHECK (channel IN ('unspecified', 'hotline_12345',
        'one_key_call', 'app', 'mailbox', 'web', 'patrol'));

ALTER TABLE ledger
    ALTER COLUMN channel TYPE text USING CASE channel
        WHEN 0 THEN 'unspecified'
        WHEN 1 THEN 'hotline_12345'
        WHEN 2 THEN 'one_key_call'
        WHEN 3 THEN 'app'
        WHEN 4 THEN 'mailbox'
        WHEN 5 THEN 'web'
        WHEN 6 THEN 'patrol'
        ELSE 'unknown'
    END,
    ALTER COLUMN rating TYPE text USING CASE
        WHEN rating IS NULL THEN NULL
        WHEN rating = 1 THEN 'satisfied'
        WHEN rating = 2 THEN 'basically_satisfied'
        WHEN rating = 3 THEN 'dissatisfied'
        ELSE 'unknown'
    END,
    ALTER COLUMN exemption_kind TYPE text USING CASE
        WHEN exemption_kind IS NULL THEN NULL
        WHEN exemption_kind = 1 THEN 'citizen_unreachable'
        WHEN exemption_kind = 2 THEN 'unresolvable_confirmed'
        ELSE 'unknown'
    END;
ALTER TABLE ledger
    ADD CONSTRAINT ledger_channel_check CHECK (channel IN ('unspecified', 'hotline_12345',
        'one_key_call', 'app', 'mailbox', 'web', 'patrol')),
    ADD CONSTRAINT ledger_rating_check
        CHECK (rating IN ('satisfied', 'basically_satisfied', 'dissatisfied')),
    ADD CONSTRAINT ledger_exemption_kind_check
        CHECK (exemption_kind IN ('citizen_unreachable', 'unresolvable_confirmed'));
