-- Categories' default urgency and SLA class (gridloop.v1.Urgency), tickets' channel (Channel),
-- urgency and submitter's role (ActorRole), and the household flags (HouseholdFlag) of
-- devices and tickets were stored as wire numbers; they are stored by name from here on, as
-- the loop view's are since 0004. A ticket's 0 (no role: a citizen's own submission) stays
-- said, as 'unspecified', and so does a number no name stands for, as intake's own lookup
-- (platform::stored's `Names`) names it. Categories and flags were never 0 (refused on the
-- way in) and their CHECKs refuse 'unspecified', so a stray number there stops the migration
-- rather than lose the row's meaning. The unique key on (channel, external_id) is rebuilt on
-- the new column.
ALTER TABLE categories
    DROP CONSTRAINT categories_default_urgency_check,
    DROP CONSTRAINT categories_sla_class_check;
ALTER TABLE categories
    ALTER COLUMN default_urgency TYPE TEXT USING CASE default_urgency
        WHEN 1 THEN 'general'
        WHEN 2 THEN 'urgent'
        WHEN 3 THEN 'complex'
        ELSE 'unspecified'
    END,
    ALTER COLUMN sla_class TYPE TEXT USING CASE sla_class
        WHEN 1 THEN 'general'
        WHEN 2 THEN 'urgent'
        WHEN 3 THEN 'complex'
        ELSE 'unspecified'
    END;
ALTER TABLE categories
    ADD CONSTRAINT categories_default_urgency_check
        CHECK (default_urgency IN ('general', 'urgent', 'complex')),
    ADD CONSTRAINT categories_sla_class_check CHECK (sla_class IN ('general', 'urgent', 'complex'));

-- A column's USING may not hold a subquery, so the arrays are mapped by a function that lives
-- only for this migration.
CREATE FUNCTION household_flag_names(flags SMALLINT[]) RETURNS TEXT[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_agg(CASE f
        WHEN 1 THEN 'elderly_living_alone'
        WHEN 2 THEN 'disabled'
        WHEN 3 THEN 'low_income'
        WHEN 4 THEN 'left_behind_children'
        WHEN 5 THEN 'special_care'
        ELSE 'unspecified'
    END ORDER BY n), '{}')
    FROM unnest(flags) WITH ORDINALITY AS u(f, n)
$$;

ALTER TABLE devices ALTER COLUMN flags DROP DEFAULT;
ALTER TABLE devices ALTER COLUMN flags TYPE TEXT[] USING household_flag_names(flags);
ALTER TABLE devices
    ALTER COLUMN flags SET DEFAULT '{}',
    ADD CONSTRAINT devices_flags_check CHECK (flags <@ ARRAY['elderly_living_alone', 'disabled',
        'low_income', 'left_behind_children', 'special_care']);

ALTER TABLE tickets
    ALTER COLUMN household_flags DROP DEFAULT,
    ALTER COLUMN submitted_by_role DROP DEFAULT;
ALTER TABLE tickets
    ALTER COLUMN channel TYPE TEXT USING CASE channel
        WHEN 1 THEN 'hotline_12345'
        WHEN 2 THEN 'one_key_call'
        WHEN 3 THEN 'app'
        WHEN 4 THEN 'mailbox'
        WHEN 5 THEN 'web'
        WHEN 6 THEN 'patrol'
        ELSE 'unspecified'
    END,
    ALTER COLUMN urgency TYPE TEXT USING CASE urgency
        WHEN 1 THEN 'general'
        WHEN 2 THEN 'urgent'
        WHEN 3 THEN 'complex'
        ELSE 'unspecified'
    END,
    ALTER COLUMN household_flags TYPE TEXT[] USING household_flag_names(household_flags),
    ALTER COLUMN submitted_by_role TYPE TEXT USING CASE submitted_by_role
        WHEN 1 THEN 'operator'
        WHEN 2 THEN 'worker'
        WHEN 3 THEN 'supervisor'
        WHEN 4 THEN 'leader'
        WHEN 5 THEN 'admin'
        WHEN 6 THEN 'service'
        WHEN 7 THEN 'citizen'
        ELSE 'unspecified'
    END;
ALTER TABLE tickets
    ALTER COLUMN household_flags SET DEFAULT '{}',
    ALTER COLUMN submitted_by_role SET DEFAULT 'unspecified',
    ADD CONSTRAINT tickets_channel_check CHECK (channel IN ('unspecified', 'hotline_12345',
        'one_key_call', 'app', 'mailbox', 'web', 'patrol')),
    ADD CONSTRAINT tickets_urgency_check
        CHECK (urgency IN ('unspecified', 'general', 'urgent', 'complex')),
    ADD CONSTRAINT tickets_household_flags_check CHECK (household_flags <@ ARRAY[
        'elderly_living_alone', 'disabled', 'low_income', 'left_behind_children', 'special_care']),
    ADD CONSTRAINT tickets_submitted_by_role_check CHECK (submitted_by_role IN ('unspecified',
        'operator', 'worker', 'supervisor', 'leader', 'admin', 'service', 'citizen'));

DROP FUNCTION household_flag_names(SMALLINT[]);
