//! The envelope a handler receives: a `TicketEvent` whose ids are parsed, whose body is
//! present and whose time is read, so no handler parses or checks them again. The inbox
//! builds it with [`Envelope::parse`]; an event that does not parse never reaches a handler
//! (see [`crate::inbox`] for what happens to it instead).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use gridloop_lifecycle::{Event, TicketId};
use gridloop_proto::from_ts;
use gridloop_proto::v1::TicketEvent;
use gridloop_proto::v1::ticket_event::Body;
use uuid::Uuid;

use crate::convert::lifecycle_step;

/// A valid event of one ticket.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub event_id: Uuid,
    pub ticket_id: TicketId,
    /// The service that published it (as it says).
    pub producer: String,
    /// When the producer says it happened; `None` when the event does not say, or says
    /// something that is not a time.
    pub occurred_at: Option<DateTime<Utc>>,
    /// The W3C trace context of the step that produced the event.
    pub trace_context: HashMap<String, String>,
    pub body: Body,
}

/// Why an event is not fit for a handler.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unfit {
    /// Without a valid event id the inbox cannot even record it.
    #[error("event id is not a UUID")]
    EventId,
    #[error("ticket id {0:?} is not a UUID")]
    TicketId(String),
    #[error("event without a body")]
    NoBody,
}

impl Envelope {
    /// Reads `event`'s envelope.
    pub fn parse(event: TicketEvent) -> Result<Envelope, Unfit> {
        Self::read(event).map_err(|unfit| unfit.0)
    }

    /// [`Envelope::parse`], handing back an unfit event as it came (the inbox logs it and
    /// reports it by its raw ids).
    pub(crate) fn read(mut event: TicketEvent) -> Result<Envelope, Box<(Unfit, TicketEvent)>> {
        let Ok(event_id) = Uuid::parse_str(&event.event_id) else {
            return Err(Box::new((Unfit::EventId, event)));
        };
        let Ok(ticket_id) = TicketId::parse(&event.ticket_id) else {
            let why = Unfit::TicketId(event.ticket_id.clone());
            return Err(Box::new((why, event)));
        };
        let Some(body) = event.body.take() else {
            return Err(Box::new((Unfit::NoBody, event)));
        };
        Ok(Envelope {
            event_id,
            ticket_id,
            producer: event.producer,
            occurred_at: event.occurred_at.as_ref().and_then(from_ts),
            trace_context: event.trace_context,
            body,
        })
    }

    /// The event kind: the subject suffix.
    pub fn kind(&self) -> &'static str {
        self.body.kind()
    }

    /// The lifecycle step this event is, read by [`crate::convert`]; `None` for the kinds that
    /// do not move a ticket (overdue, escalated, violation).
    pub fn step(&self) -> Option<Event> {
        lifecycle_step(&self.body)
    }

    /// When it happened, or `now` when the event does not say.
    pub fn occurred_or(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.occurred_at.unwrap_or(now)
    }
}

#[cfg(test)]
mod tests {
    use gridloop_proto::v1::TicketReopened;

    use super::*;

    fn event() -> TicketEvent {
        TicketEvent {
            event_id: Uuid::now_v7().to_string(),
            ticket_id: Uuid::now_v7().to_string(),
            producer: "closure".into(),
            occurred_at: Some(gridloop_proto::ts(Utc::now())),
            body: Some(Body::Reopened(TicketReopened::default())),
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_event_parses_with_its_ids_and_time() {
        let raw = event();
        let env = Envelope::parse(raw.clone()).unwrap();
        assert_eq!(env.event_id.to_string(), raw.event_id);
        assert_eq!(env.ticket_id.to_string(), raw.ticket_id);
        assert_eq!(env.kind(), "reopened");
        assert_eq!(env.step(), Some(Event::Reopened));
        assert!(env.occurred_at.is_some());
    }

    #[test]
    fn what_a_handler_cannot_read_is_named() {
        let bad_event = TicketEvent {
            event_id: "e-1".into(),
            ..event()
        };
        assert_eq!(Envelope::parse(bad_event), Err(Unfit::EventId));
        let bad_ticket = TicketEvent {
            ticket_id: "t-1".into(),
            ..event()
        };
        assert_eq!(
            Envelope::parse(bad_ticket),
            Err(Unfit::TicketId("t-1".into()))
        );
        let no_body = TicketEvent {
            body: None,
            ..event()
        };
        assert_eq!(Envelope::parse(no_body), Err(Unfit::NoBody));
    }
}
