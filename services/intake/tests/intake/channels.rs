//! One happy path per channel, with the event each one publishes, and the read RPCs.

use gridloop_platform::auth::Role;
use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::*;
use tonic::Code;

use crate::support::*;

#[tokio::test]
async fn hotline_ticket_is_created_published_once_and_readable() {
    let mut h = start().await;
    let done = h
        .client
        .submit_hotline_ticket(req(
            hotline("GD-001", "138-1234-5678", "neighbor_dispute"),
            &operator(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.outcome(), SubmitOutcome::Created);
    assert_eq!(done.urgency(), Urgency::General);

    let events = h.published("discovered").await;
    assert_eq!(events.len(), 1, "exactly one discovered event");
    let ev = &events[0];
    assert_eq!(ev.ticket_id, done.ticket_id);
    assert_eq!(ev.producer, "intake");
    assert_no_phone(ev, "13812345678");
    assert_no_phone(ev, "张三华");
    let Some(Body::Discovered(d)) = &ev.body else {
        panic!("not a discovered body")
    };
    assert_eq!(d.channel(), Channel_::Hotline12345);
    assert_eq!(d.external_id, "GD-001");
    let contact = d.contact.as_ref().unwrap();
    assert_eq!(contact.masked_phone, "138****5678");
    assert_eq!(contact.citizen_key, h.citizen_key("13812345678"));
    assert_eq!(d.category.as_ref().unwrap().name, "邻里纠纷");
    assert_eq!(d.location.as_ref().unwrap().grid_code, "341504100201");
    let by = d.submitted_by.as_ref().unwrap();
    assert_eq!((by.id.as_str(), by.role()), ("op-1", ActorRole::Operator));

    let got = h
        .client
        .get_ticket(req(
            GetTicketRequest {
                ticket_id: done.ticket_id.clone(),
            },
            &operator(),
        ))
        .await
        .unwrap()
        .into_inner();
    let t = got.ticket.unwrap();
    assert_eq!(t.state(), LifecycleState::Discovered);
    assert_eq!(t.contact.unwrap().masked_phone, "138****5678");
    assert_eq!(got.history.len(), 1);
    assert_eq!(got.history[0].kind, "discovered");

    // Only operators submit hotline tickets.
    let err = h
        .client
        .submit_hotline_ticket(req(
            hotline("GD-002", "13812345678", "other"),
            &token(Role::Worker, "w", &[]),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(h.count("tickets").await, 1);
}

#[tokio::test]
async fn app_channels_and_citizen_ownership() {
    let mut h = start().await;
    let me = h.citizen_key("13900001111");
    let citizen = token(Role::Citizen, &me, &[]);
    let mut mailbox = app_ticket("MB-1", "13900001111", "municipal");
    mailbox.channel = Channel_::Mailbox as i32;
    let done = h
        .client
        .submit_app_ticket(req(mailbox, &citizen))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.outcome(), SubmitOutcome::Created);

    // A citizen cannot submit under someone else's phone.
    let err = h
        .client
        .submit_app_ticket(req(
            app_ticket("MB-2", "13900002222", "municipal"),
            &citizen,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // The app backend (service) can.
    let web = SubmitAppTicketRequest {
        channel: Channel_::Web as i32,
        ..app_ticket("WEB-1", "13900002222", "environment")
    };
    h.client
        .submit_app_ticket(req(web, &service()))
        .await
        .unwrap();

    let events = h.published("discovered").await;
    assert_eq!(events.len(), 2);
    let channels: Vec<Channel_> = events
        .iter()
        .map(|e| match &e.body {
            Some(Body::Discovered(d)) => d.channel(),
            _ => panic!("not discovered"),
        })
        .collect();
    assert_eq!(channels, vec![Channel_::Mailbox, Channel_::Web]);
    for (e, phone) in events.iter().zip(["13900001111", "13900002222"]) {
        assert_no_phone(e, phone);
    }

    // Citizens read their own tickets; another citizen's look unknown.
    let mine = h
        .client
        .get_ticket(req(
            GetTicketRequest {
                ticket_id: done.ticket_id.clone(),
            },
            &citizen,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        mine.ticket.unwrap().photo_urls,
        vec!["https://img.example.cn/1.jpg".to_string()]
    );
    let other = token(Role::Citizen, &h.citizen_key("13900002222"), &[]);
    let err = h
        .client
        .get_ticket(req(
            GetTicketRequest {
                ticket_id: done.ticket_id,
            },
            &other,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn patrol_finding_is_the_workers_own_in_their_grid() {
    let mut h = start().await;
    let worker = token(Role::Worker, "w-42", &["341504100201"]);
    let finding = ReportPatrolFindingRequest {
        finding_id: "PF-1".into(),
        grid_code: "341504100201".into(),
        category_code: "public_security".into(),
        urgency: Urgency::Unspecified as i32,
        content: "村口变压器围栏破损".into(),
        photo_urls: vec!["https://img.example.cn/p.jpg".into()],
        location: Some(Location {
            point: Some(GeoPoint {
                lat: 31.0,
                lng: 117.0,
            }),
            address: "幸福村村口".into(),
            grid_code: String::new(),
        }),
        found_at: Some(now_ts()),
    };
    let done = h
        .client
        .report_patrol_finding(req(finding.clone(), &worker))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.outcome(), SubmitOutcome::Created);
    // public_security defaults to urgent in the seeded catalogue.
    assert_eq!(done.urgency(), Urgency::Urgent);

    let outside = ReportPatrolFindingRequest {
        finding_id: "PF-2".into(),
        grid_code: "341504100999".into(),
        ..finding
    };
    let err = h
        .client
        .report_patrol_finding(req(outside, &worker))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let events = h.published("discovered").await;
    assert_eq!(events.len(), 1);
    let Some(Body::Discovered(d)) = &events[0].body else {
        panic!()
    };
    assert_eq!(d.channel(), Channel_::Patrol);
    assert!(d.contact.is_none());
    assert_eq!(d.submitted_by.as_ref().unwrap().id, "w-42");
    assert_eq!(d.location.as_ref().unwrap().grid_code, "341504100201");
}

#[tokio::test]
async fn find_tickets_lists_a_phones_tickets_page_by_page() {
    let mut h = start().await;
    for (id, phone, cat) in [
        ("F-1", "13700000001", "environment"),
        ("F-2", "13700000001", "municipal"),
        ("F-3", "13700000002", "environment"),
    ] {
        h.client
            .submit_hotline_ticket(req(hotline(id, phone, cat), &operator()))
            .await
            .unwrap();
    }
    let first = h
        .client
        .find_tickets(req(
            FindTicketsRequest {
                phone: "137 0000 0001".into(),
                recent_days: 0,
                page_size: 1,
                page_token: String::new(),
                ..Default::default()
            },
            &operator(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.tickets.len(), 1);
    assert_eq!(first.tickets[0].external_id, "F-2", "newest first");
    assert!(!first.next_page_token.is_empty());
    let second = h
        .client
        .find_tickets(req(
            FindTicketsRequest {
                phone: "13700000001".into(),
                recent_days: 0,
                page_size: 1,
                page_token: first.next_page_token,
                ..Default::default()
            },
            &operator(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.tickets.len(), 1);
    assert_eq!(second.tickets[0].external_id, "F-1");
    assert!(second.next_page_token.is_empty());

    let err = h
        .client
        .find_tickets(req(
            FindTicketsRequest {
                phone: "13700000001".into(),
                ..Default::default()
            },
            &service(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}
