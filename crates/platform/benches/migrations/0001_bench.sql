-- What the benchmark handler writes per event: when it was handled, to measure latency.
CREATE TABLE handled (
    event_id   TEXT        NOT NULL,
    latency_us BIGINT      NOT NULL
);
-- Baseline: a plain row per transaction, the same shape as a business write.
CREATE TABLE raw_rows (
    id      BIGSERIAL PRIMARY KEY,
    payload BYTEA NOT NULL
);
