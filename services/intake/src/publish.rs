//! The events intake publishes (`discovered`, `merged`), built from a validated submission
//! (a split repeat's `discovered` is built from the stored one, in [`crate::split`]). Contacts
//! go out masked with the opaque citizen key: never the phone number or the name.

use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::{
    Actor, Category, Location, MaskedContact, TicketDiscovered, TicketMerged,
};
use uuid::Uuid;

use crate::submit::Submission;

fn contact(sub: &Submission) -> Option<MaskedContact> {
    sub.contact.as_ref().map(|c| MaskedContact {
        masked_phone: c.phone.masked(),
        citizen_key: c.citizen_key.clone(),
    })
}

fn location(sub: &Submission) -> Location {
    Location {
        point: sub.point,
        address: sub.address.clone(),
        grid_code: sub.grid_code.clone(),
    }
}

fn category(sub: &Submission) -> Category {
    Category {
        code: sub.category_code.clone(),
        name: sub.category_name.clone(),
    }
}

pub fn discovered(sub: &Submission) -> Body {
    Body::Discovered(TicketDiscovered {
        channel: sub.channel as i32,
        external_id: sub.external_id.clone(),
        category: Some(category(sub)),
        urgency: sub.urgency as i32,
        content: sub.content.clone(),
        contact: contact(sub),
        location: Some(location(sub)),
        household_flags: sub
            .household
            .as_ref()
            .map(|h| h.flags.iter().map(|f| *f as i32).collect())
            .unwrap_or_default(),
        received_at: Some(gridloop_proto::ts(sub.received_at)),
        photo_urls: sub.photo_urls.clone(),
        recording_url: sub.recording_url.clone(),
        household_key: sub
            .household
            .as_ref()
            .map(|h| h.key.clone())
            .unwrap_or_default(),
        device_id: sub
            .household
            .as_ref()
            .map(|h| h.device_id.clone())
            .unwrap_or_default(),
        submitted_by: sub.submitted_by.as_ref().map(|s| Actor {
            id: s.id.clone(),
            role: s.role as i32,
        }),
        split_from_ticket_id: String::new(),
    })
}

pub fn merged(sub: &Submission, parent: Uuid, repeat_count: u32) -> Body {
    Body::Merged(TicketMerged {
        parent_ticket_id: parent.to_string(),
        repeat_count,
        channel: sub.channel as i32,
        external_id: sub.external_id.clone(),
        category: Some(category(sub)),
        urgency: sub.urgency as i32,
        contact: contact(sub),
        location: Some(location(sub)),
        received_at: Some(gridloop_proto::ts(sub.received_at)),
        household_key: sub
            .household
            .as_ref()
            .map(|h| h.key.clone())
            .unwrap_or_default(),
        content: sub.content.clone(),
    })
}
