-- The repeat-complaint lookup finds a citizen's open tickets through tickets_by_citizen (a
-- citizen has few tickets), so the narrower partial index was one more index write per
-- ticket for nothing.
DROP INDEX tickets_open_by_citizen;
