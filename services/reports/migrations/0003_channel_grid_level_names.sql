-- Channels (gridloop.v1.Channel) in facts and the aggregates, and grids' levels (GridLevel),
-- were stored as wire numbers; they are stored by name from here on. 0 (no channel or level
-- given) stays said, as 'unspecified', and so does a number no name stands for, as reports'
-- own lookup (platform::stored's `Names`) names it.
--
-- The aggregates are keyed by channel, and such numbers would share 'unspecified' with 0: so
-- the aggregates are regrouped under the names into new tables (each key's counts summed),
-- keyed and indexed as before, rather than retyped in place. They then still equal the sum
-- over the fact rows, whose channels map the same way.

-- A channel number's name, for facts and the aggregates alike; only for this migration.
CREATE FUNCTION channel_name(channel SMALLINT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE channel
        WHEN 1 THEN 'hotline_12345'
        WHEN 2 THEN 'one_key_call'
        WHEN 3 THEN 'app'
        WHEN 4 THEN 'mailbox'
        WHEN 5 THEN 'web'
        WHEN 6 THEN 'patrol'
        ELSE 'unspecified'
    END
$$;

ALTER TABLE facts ALTER COLUMN channel DROP DEFAULT;
ALTER TABLE facts ALTER COLUMN channel TYPE TEXT USING channel_name(channel);
ALTER TABLE facts
    ALTER COLUMN channel SET DEFAULT 'unspecified',
    ADD CONSTRAINT facts_channel_check CHECK (channel IN ('unspecified', 'hotline_12345',
        'one_key_call', 'app', 'mailbox', 'web', 'patrol'));

ALTER TABLE grids ALTER COLUMN level TYPE TEXT USING CASE level
    WHEN 1 THEN 'county'
    WHEN 2 THEN 'town'
    WHEN 3 THEN 'village'
    WHEN 4 THEN 'group'
    ELSE 'unspecified'
END;
ALTER TABLE grids ADD CONSTRAINT grids_level_check
    CHECK (level IN ('unspecified', 'county', 'town', 'village', 'group'));

CREATE TABLE agg_named (LIKE agg INCLUDING DEFAULTS);
ALTER TABLE agg_named
    ALTER COLUMN channel TYPE TEXT,
    ADD CONSTRAINT agg_channel_check CHECK (channel IN ('unspecified', 'hotline_12345',
        'one_key_call', 'app', 'mailbox', 'web', 'patrol'));
INSERT INTO agg_named
SELECT day, grid_code, category_code, channel_name(channel), worker_id,
    sum(received), sum(dispatched), sum(merged), sum(closed), sum(open_overdue),
    sum(accepted_on_time), sum(closed_on_time), sum(disposed), sum(reworked), sum(satisfied),
    sum(basically_satisfied), sum(dissatisfied), sum(closed_by_exemption),
    sum(handling_minutes)
FROM agg GROUP BY day, grid_code, category_code, channel_name(channel), worker_id;
DROP TABLE agg;
ALTER TABLE agg_named RENAME TO agg;
ALTER TABLE agg ADD CONSTRAINT agg_pkey
    PRIMARY KEY (day, grid_code, category_code, channel, worker_id);
-- As in 0002.
CREATE INDEX agg_rollup ON agg (day, grid_code) INCLUDE (
    category_code, channel, worker_id, received, dispatched, merged, closed, open_overdue,
    accepted_on_time, closed_on_time, disposed, reworked, satisfied, basically_satisfied,
    dissatisfied, closed_by_exemption, handling_minutes);

CREATE TABLE agg_hist_named (LIKE agg_hist INCLUDING DEFAULTS);
ALTER TABLE agg_hist_named
    ALTER COLUMN channel TYPE TEXT,
    ADD CONSTRAINT agg_hist_channel_check CHECK (channel IN ('unspecified', 'hotline_12345',
        'one_key_call', 'app', 'mailbox', 'web', 'patrol'));
INSERT INTO agg_hist_named
SELECT day, grid_code, category_code, channel_name(channel), worker_id, bucket, sum(n)
FROM agg_hist GROUP BY day, grid_code, category_code, channel_name(channel), worker_id, bucket;
DROP TABLE agg_hist;
ALTER TABLE agg_hist_named RENAME TO agg_hist;
ALTER TABLE agg_hist ADD CONSTRAINT agg_hist_pkey
    PRIMARY KEY (day, grid_code, category_code, channel, worker_id, bucket);
CREATE INDEX agg_hist_rollup ON agg_hist (day, grid_code) INCLUDE (
    category_code, channel, worker_id, bucket, n);
-- New tables have no statistics yet; roll-ups should not wait for autovacuum to plan well.
ANALYZE agg;
ANALYZE agg_hist;

DROP FUNCTION channel_name(SMALLINT);
