//! Repeat complaints (重复诉求): same citizen or household, same category, earlier ticket open.

use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::*;
use tonic::Code;

use crate::support::*;

#[tokio::test]
async fn repeats_merge_into_the_open_ticket_and_count_up() {
    let mut h = start().await;
    let parent = h
        .client
        .submit_hotline_ticket(req(
            hotline("R-1", "13812345678", "environment"),
            &operator(),
        ))
        .await
        .unwrap()
        .into_inner();
    // Same phone, same category, through another channel.
    let second = h
        .client
        .submit_app_ticket(req(
            app_ticket("APP-9", "+86 13812345678", "environment"),
            &service(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.outcome(), SubmitOutcome::Merged);
    assert_eq!(second.ticket_id, parent.ticket_id);
    assert_eq!(second.repeat_count, 1);
    assert!(!second.merged_ticket_id.is_empty());
    let third = h
        .client
        .submit_hotline_ticket(req(
            hotline("R-3", "13812345678", "environment"),
            &operator(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (third.outcome(), third.repeat_count),
        (SubmitOutcome::Merged, 2)
    );
    assert_eq!(third.ticket_id, parent.ticket_id);

    // Another category is another matter.
    let other = h
        .client
        .submit_hotline_ticket(req(hotline("R-4", "13812345678", "municipal"), &operator()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(other.outcome(), SubmitOutcome::Created);

    // A replay of a merged submission answers as it did: the parent, and its own id.
    let replay = h
        .client
        .submit_app_ticket(req(
            app_ticket("APP-9", "13812345678", "environment"),
            &service(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replay.outcome(), SubmitOutcome::Replayed);
    assert_eq!(replay.ticket_id, parent.ticket_id);
    assert_eq!(replay.merged_ticket_id, second.merged_ticket_id);
    assert_eq!(replay.repeat_count, 2);

    let merged = h.published("merged").await;
    let counts: Vec<(String, String, u32)> = merged
        .iter()
        .map(|e| match &e.body {
            Some(Body::Merged(m)) => (
                e.ticket_id.clone(),
                m.parent_ticket_id.clone(),
                m.repeat_count,
            ),
            _ => panic!("not merged"),
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            (second.merged_ticket_id.clone(), parent.ticket_id.clone(), 1),
            (third.merged_ticket_id.clone(), parent.ticket_id.clone(), 2),
        ]
    );
    for e in &merged {
        assert_no_phone(e, "13812345678");
        let Some(Body::Merged(m)) = &e.body else {
            panic!()
        };
        assert_eq!(
            m.contact.as_ref().unwrap().citizen_key,
            h.citizen_key("13812345678")
        );
    }
    // Merged submissions publish no discovered event of their own.
    assert_eq!(h.published("discovered").await.len(), 2);

    let got = h
        .client
        .get_ticket(req(
            GetTicketRequest {
                ticket_id: parent.ticket_id.clone(),
            },
            &operator(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.ticket.as_ref().unwrap().repeat_count, 2);
    let kinds: Vec<&str> = got.history.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, vec!["discovered", "merged", "merged"]);
    let child = h
        .client
        .get_ticket(req(
            GetTicketRequest {
                ticket_id: second.merged_ticket_id.clone(),
            },
            &operator(),
        ))
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(child.state(), LifecycleState::Merged);
    assert_eq!(child.parent_ticket_id, parent.ticket_id);
}

#[tokio::test]
async fn a_ticket_outside_the_window_takes_no_repeats() {
    let mut h = start().await;
    let mut old = hotline("OLD-1", "13812345678", "environment");
    old.received_at = Some(gridloop_proto::ts(
        chrono::Utc::now() - chrono::Duration::days(31),
    ));
    let first = h
        .client
        .submit_hotline_ticket(req(old, &operator()))
        .await
        .unwrap()
        .into_inner();
    let second = h
        .client
        .submit_hotline_ticket(req(
            hotline("NEW-1", "13812345678", "environment"),
            &operator(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.outcome(), SubmitOutcome::Created);
    assert_ne!(second.ticket_id, first.ticket_id);
}

#[tokio::test]
async fn presses_of_one_household_merge() {
    let mut h = start().await;
    h.client
        .register_device(req(
            RegisterDeviceRequest {
                device_id: "DEV-1".into(),
                address: "幸福村3组12号".into(),
                grid_code: "341504100201".into(),
                contact_phone: "13611112222".into(),
                contact_name: "李大爷".into(),
                flags: vec![HouseholdFlag::ElderlyLivingAlone as i32],
                point: None,
            },
            &admin(),
        ))
        .await
        .unwrap();
    let press = |id: &str| SubmitOneKeyCallRequest {
        device_id: "DEV-1".into(),
        press_id: id.into(),
        pressed_at: Some(now_ts()),
        voice_note_url: String::new(),
    };
    let first = h
        .client
        .submit_one_key_call(req(press("P-1"), &service()))
        .await
        .unwrap()
        .into_inner();
    let second = h
        .client
        .submit_one_key_call(req(press("P-2"), &service()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.outcome(), SubmitOutcome::Created);
    assert_eq!(
        (
            second.outcome(),
            second.ticket_id.as_str(),
            second.repeat_count
        ),
        (SubmitOutcome::Merged, first.ticket_id.as_str(), 1)
    );
    let merged = h.published("merged").await;
    assert_eq!(merged.len(), 1);
    let Some(Body::Merged(m)) = &merged[0].body else {
        panic!()
    };
    assert!(m.household_key.starts_with("hh-"));
    assert_eq!(m.repeat_count, 1);

    // Operators cannot submit presses.
    let err = h
        .client
        .submit_one_key_call(req(press("P-3"), &operator()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}
