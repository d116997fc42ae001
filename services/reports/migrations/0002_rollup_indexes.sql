-- Roll-ups read a date range of one subtree. The primary keys put a day's grids in code order,
-- but the heap holds a day's rows in arrival order, grids mixed: a town's month would touch
-- nearly every block of the month. These covering indexes hold every column a roll-up reads,
-- ordered by day and grid, so a roll-up is an index-only scan of one contiguous run per day
-- (the query asks for `day = ANY(days)` to get one descent per day).
CREATE INDEX IF NOT EXISTS agg_rollup ON agg (day, grid_code) INCLUDE (
    category_code, channel, worker_id, received, dispatched, merged, closed, open_overdue,
    accepted_on_time, closed_on_time, disposed, reworked, satisfied, basically_satisfied,
    dissatisfied, closed_by_exemption, handling_minutes);
CREATE INDEX IF NOT EXISTS agg_hist_rollup ON agg_hist (day, grid_code) INCLUDE (
    category_code, channel, worker_id, bucket, n);
