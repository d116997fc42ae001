//! Reading the test's stream: every event, decoded, for checks across all services (no phone
//! number or name in any event).

use gridloop_platform::testing::{self, StreamMessage};

use crate::System;

impl System {
    /// Every message on the test's stream now, in stream order.
    pub async fn all_events(&self) -> Vec<StreamMessage> {
        testing::stream_events(&self.bus, None).await
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
