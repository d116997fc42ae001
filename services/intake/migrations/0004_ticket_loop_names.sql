-- The loop view's disposal type (gridloop.v1.DisposalType), ratings (Rating) and exemption
-- kind (ExemptionKind) were stored as wire numbers; they are stored by name from here on.
-- 0 (no disposal or no rating yet) stays said, as 'unspecified'; the write-off's rating and
-- exemption kind are NULL until a write-off on that basis. Every number written maps to a
-- name; any other number becomes NULL (in a NOT NULL column) or 'unknown' (which the CHECKs
-- refuse), so the migration stops rather than lose the row's meaning.
ALTER TABLE ticket_loop
    ALTER COLUMN disposal_type DROP DEFAULT,
    ALTER COLUMN rating DROP DEFAULT;
ALTER TABLE ticket_loop
    ALTER COLUMN disposal_type TYPE TEXT USING CASE disposal_type
        WHEN 0 THEN 'unspecified'
        WHEN 1 THEN 'resolved'
        WHEN 2 THEN 'explained'
        WHEN 3 THEN 'unresolvable'
    END,
    ALTER COLUMN rating TYPE TEXT USING CASE rating
        WHEN 0 THEN 'unspecified'
        WHEN 1 THEN 'satisfied'
        WHEN 2 THEN 'basically_satisfied'
        WHEN 3 THEN 'dissatisfied'
    END,
    ALTER COLUMN closed_on_rating TYPE TEXT USING CASE
        WHEN closed_on_rating IS NULL THEN NULL
        WHEN closed_on_rating = 1 THEN 'satisfied'
        WHEN closed_on_rating = 2 THEN 'basically_satisfied'
        WHEN closed_on_rating = 3 THEN 'dissatisfied'
        ELSE 'unknown'
    END,
    ALTER COLUMN exemption_kind TYPE TEXT USING CASE
        WHEN exemption_kind IS NULL THEN NULL
        WHEN exemption_kind = 1 THEN 'citizen_unreachable'
        WHEN exemption_kind = 2 THEN 'unresolvable_confirmed'
        ELSE 'unknown'
    END;
ALTER TABLE ticket_loop
    ALTER COLUMN disposal_type SET DEFAULT 'unspecified',
    ALTER COLUMN rating SET DEFAULT 'unspecified',
    ADD CONSTRAINT ticket_loop_disposal_type_check CHECK (disposal_type IN
        ('unspecified', 'resolved', 'explained', 'unresolvable')),
    ADD CONSTRAINT ticket_loop_rating_check CHECK (rating IN
        ('unspecified', 'satisfied', 'basically_satisfied', 'dissatisfied')),
    ADD CONSTRAINT ticket_loop_closed_on_rating_check CHECK (closed_on_rating IN
        ('satisfied', 'basically_satisfied', 'dissatisfied')),
    ADD CONSTRAINT ticket_loop_exemption_kind_check CHECK (exemption_kind IN
        ('citizen_unreachable', 'unresolvable_confirmed'));
