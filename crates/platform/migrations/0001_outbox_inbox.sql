-- The platform's tables, created in every service's own schema (search_path).

-- Transactional outbox: a service writes its event here in the transaction that changes its
-- state; the relay publishes it to JetStream and marks it sent.
CREATE TABLE outbox (
    id          BIGSERIAL PRIMARY KEY,
    event_id    UUID        NOT NULL UNIQUE,
    ticket_id   TEXT        NOT NULL,
    subject     TEXT        NOT NULL,
    payload     BYTEA       NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at     TIMESTAMPTZ
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL;

-- Wake the relay when a transaction that wrote outbox rows commits (NOTIFY is delivered at
-- commit, and identical notifications of one transaction are folded into one).
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Idempotent inbox: the id of every event this service has applied, written in the same
-- transaction as the change the event caused.
CREATE TABLE inbox (
    event_id    UUID        PRIMARY KEY,
    subject     TEXT        NOT NULL,
    handled_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Events that kept failing (or could not be decoded): kept with the error for a person to see.
CREATE TABLE dead_letters (
    id            BIGSERIAL PRIMARY KEY,
    event_id      TEXT        NOT NULL,
    subject       TEXT        NOT NULL,
    stream_seq    BIGINT      NOT NULL,
    deliveries    BIGINT      NOT NULL,
    error         TEXT        NOT NULL,
    payload       BYTEA       NOT NULL,
    failed_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (stream_seq)
);
