//! Reading the test's stream: every event, decoded, for checks across all services (no phone
//! number or name in any event).

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use futures::StreamExt;
use gridloop_proto::v1::TicketEvent;
use prost::Message;

use crate::System;

/// One message of the stream: its subject, raw payload and the decoded event.
pub struct Published {
    pub subject: String,
    pub payload: Vec<u8>,
    pub event: TicketEvent,
}

impl System {
    /// Every message on the test's stream now, in stream order.
    pub async fn all_events(&self) -> Vec<Published> {
        let stream = self
            .js
            .get_stream(&self.env.stream)
            .await
            .expect("the test's stream");
        let consumer = stream
            .create_consumer(pull::Config {
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::None,
                inactive_threshold: std::time::Duration::from_secs(30),
                ..Default::default()
            })
            .await
            .expect("an ephemeral consumer");
        let pending = consumer.cached_info().num_pending as usize;
        let mut out = Vec::with_capacity(pending);
        if pending == 0 {
            return out;
        }
        let mut batch = consumer
            .fetch()
            .max_messages(pending)
            .expires(std::time::Duration::from_secs(5))
            .messages()
            .await
            .expect("fetch the stream");
        while let Some(m) = batch.next().await {
            let m = m.expect("a message");
            let event = TicketEvent::decode(m.payload.as_ref())
                .unwrap_or_else(|e| panic!("{} is not a TicketEvent: {e}", m.subject));
            out.push(Published {
                subject: m.subject.to_string(),
                payload: m.payload.to_vec(),
                event,
            });
        }
        assert_eq!(out.len(), pending, "read every message of the stream");
        out
    }

    /// Events of `ticket` on the stream, in stream order, as their kinds.
    pub async fn kinds_on_stream(&self, ticket: &str) -> Vec<String> {
        self.all_events()
            .await
            .into_iter()
            .filter(|p| p.event.ticket_id == ticket)
            .map(|p| p.event.kind().unwrap_or("?").to_string())
            .collect()
    }

    /// Asserts that no event on the stream carries a phone number or a name given to any
    /// service in this test, in the payload bytes or in any decoded field. Returns how many
    /// events were checked.
    pub async fn assert_no_pii_on_stream(&self) -> usize {
        let secrets = self.secrets();
        assert!(
            !secrets.is_empty(),
            "the test gave services no phone or name"
        );
        let events = self.all_events().await;
        for p in &events {
            let raw = String::from_utf8_lossy(&p.payload);
            let decoded = format!("{:?}", p.event);
            for s in &secrets {
                assert!(
                    !raw.contains(s.as_str()) && !decoded.contains(s.as_str()),
                    "{} (event {}) carries {s:?}: {decoded}",
                    p.subject,
                    p.event.event_id
                );
            }
        }
        events.len()
    }
}
