-- Where this service's consumer stands in the stream: the sequence of the last event it has
-- applied (or dead-lettered). It is written in the same transaction as the event's effects, so
-- a consumer that restarts — after a crash, a failed transaction, a lost connection or a new
-- leader — reads again from the first event it has not applied, and never applies a later
-- event of a ticket before an earlier one. Each transaction also checks that the position is
-- still where this consumer left it: a second consumer that took over meanwhile wins, and the
-- first one stops and re-reads.
CREATE TABLE consumer_position (
    consumer    TEXT        PRIMARY KEY,
    stream_seq  BIGINT      NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
