//! NATS JetStream: the connection, the `TICKETS` stream, and typed publishing of ticket events.
//! Services never touch subjects or bytes: they hand a `TicketEvent` to the outbox and get one
//! back from the inbox consumer.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use crate::{Config, Error};

/// How long a republished event id is remembered by the stream and dropped as a duplicate.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(300);

/// A connection plus where ticket events live.
#[derive(Clone)]
pub struct Bus {
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    /// Stream name (`TICKETS` unless configured).
    pub stream: String,
    /// Subject prefix (`tickets` unless configured): events go to `<prefix>.<kind>`.
    pub prefix: String,
    /// Stream replicas to ask for (`GRIDLOOP_STREAM_REPLICAS`).
    pub replicas: usize,
}

impl Bus {
    /// Connects and makes sure the stream exists with the expected settings.
    ///
    /// The connection is made even when the server is down at start-up (it keeps retrying in
    /// the background), so a service comes up and its outbox simply waits for NATS.
    pub async fn connect(cfg: &Config) -> Result<Self, Error> {
        let client = async_nats::ConnectOptions::new()
            .name(format!("gridloop-{}", cfg.service))
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5))
            .connect(&cfg.nats_url)
            .await
            .map_err(Error::nats)?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(Duration::from_secs(5));
        let bus = Self {
            client,
            js,
            stream: cfg.stream.clone(),
            prefix: cfg.subject_prefix.clone(),
            replicas: cfg.stream_replicas,
        };
        Ok(bus)
    }

    /// Creates the stream or brings its settings up to date; harmless to call repeatedly.
    pub async fn ensure_stream(&self) -> Result<stream::Stream, Error> {
        let config = stream::Config {
            name: self.stream.clone(),
            subjects: vec![format!("{}.>", self.prefix)],
            storage: stream::StorageType::File,
            // Every event is kept: the tracker and reports rebuild from the whole history.
            retention: stream::RetentionPolicy::Limits,
            duplicate_window: DUPLICATE_WINDOW,
            // Every service sends the same settings, so none of them sets an R3 stream back.
            num_replicas: self.replicas,
            description: Some("gridloop ticket events".into()),
            ..Default::default()
        };
        self.js
            .create_or_update_stream(config)
            .await
            .map_err(Error::nats)?;
        self.js.get_stream(&self.stream).await.map_err(Error::nats)
    }

    /// The sequence of the last event of any of `kinds` on the stream (of any kind when
    /// `kinds` is empty); 0 when there is none. A consumer of those kinds whose stored
    /// position is at least this has applied everything it reads.
    pub async fn last_sequence_of(&self, kinds: &[&str]) -> Result<u64, Error> {
        let mut stream = self
            .js
            .get_stream(&self.stream)
            .await
            .map_err(Error::nats)?;
        last_sequence_of(&mut stream, &self.prefix, kinds).await
    }

    /// `<prefix>.<kind>`.
    pub fn subject(&self, kind: &str) -> String {
        format!("{}.{kind}", self.prefix)
    }
}

/// [`Bus::last_sequence_of`] on a stream whose events go to `<prefix>.<kind>`, for tools that
/// hold a stream handle rather than a [`Bus`].
pub async fn last_sequence_of(
    stream: &mut stream::Stream,
    prefix: &str,
    kinds: &[&str],
) -> Result<u64, Error> {
    use async_nats::jetstream::stream::LastRawMessageErrorKind;
    if kinds.is_empty() {
        return Ok(stream
            .info()
            .await
            .map_err(Error::nats)?
            .state
            .last_sequence);
    }
    let mut last = 0;
    for kind in kinds {
        match stream
            .get_last_raw_message_by_subject(&format!("{prefix}.{kind}"))
            .await
        {
            Ok(m) => last = last.max(m.sequence),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => {}
            Err(e) => return Err(Error::nats(e)),
        }
    }
    Ok(last)
}
