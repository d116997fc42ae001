//! The one-key device registry and the category catalogue.

use gridloop_platform::auth::Role;
use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::*;
use tonic::Code;

use crate::support::*;

fn device(id: &str, grid: &str) -> RegisterDeviceRequest {
    RegisterDeviceRequest {
        device_id: id.into(),
        address: "幸福村3组12号".into(),
        grid_code: grid.into(),
        contact_phone: "13611112222".into(),
        contact_name: "王秀英".into(),
        flags: vec![],
        point: Some(GeoPoint {
            lat: 31.1,
            lng: 117.2,
        }),
    }
}

fn press(device: &str, id: &str) -> SubmitOneKeyCallRequest {
    SubmitOneKeyCallRequest {
        device_id: device.into(),
        press_id: id.into(),
        pressed_at: Some(now_ts()),
        voice_note_url: "https://voice.example.cn/n.amr".into(),
    }
}

#[tokio::test]
async fn register_update_deactivate_and_presses() {
    let mut h = start().await;
    let d = h
        .client
        .register_device(req(device("DEV-1", "341504100201"), &admin()))
        .await
        .unwrap()
        .into_inner()
        .device
        .unwrap();
    assert!(d.active);
    assert_eq!(d.masked_name, "王*英");
    assert_eq!(d.contact.as_ref().unwrap().masked_phone, "136****2222");
    let err = h
        .client
        .register_device(req(device("DEV-1", "341504100201"), &admin()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let err = h
        .client
        .register_device(req(
            RegisterDeviceRequest {
                contact_phone: "123".into(),
                ..device("DEV-2", "341504100201")
            },
            &admin(),
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, "contact_phone");
    assert_eq!(h.count("devices").await, 1);

    // Only the masked fields change: flags now elderly living alone.
    let updated = h
        .client
        .update_device(req(
            UpdateDeviceRequest {
                device_id: "DEV-1".into(),
                flags: vec![HouseholdFlag::ElderlyLivingAlone as i32],
                address: "ignored".into(),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["flags".into()],
                }),
                ..Default::default()
            },
            &token(Role::Supervisor, "sup", &["341504100"]),
        ))
        .await
        .unwrap()
        .into_inner()
        .device
        .unwrap();
    assert_eq!(
        updated.flags,
        vec![HouseholdFlag::ElderlyLivingAlone as i32]
    );
    assert_eq!(updated.address, "幸福村3组12号");
    assert_eq!(updated.household_key, d.household_key);

    // A press from the elderly household is urgent and carries the registry's data.
    let done = h
        .client
        .submit_one_key_call(req(press("DEV-1", "P-1"), &service()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (done.outcome(), done.urgency()),
        (SubmitOutcome::Created, Urgency::Urgent)
    );
    let events = h.published("discovered").await;
    assert_eq!(events.len(), 1);
    assert_no_phone(&events[0], "13611112222");
    assert_no_phone(&events[0], "王秀英");
    let Some(Body::Discovered(ev)) = &events[0].body else {
        panic!()
    };
    assert_eq!(ev.channel(), Channel_::OneKeyCall);
    assert_eq!(
        (ev.device_id.as_str(), ev.household_key.as_str()),
        ("DEV-1", d.household_key.as_str())
    );
    assert_eq!(
        ev.household_flags,
        vec![HouseholdFlag::ElderlyLivingAlone as i32]
    );
    assert_eq!(ev.location.as_ref().unwrap().grid_code, "341504100201");
    assert_eq!(ev.contact.as_ref().unwrap().masked_phone, "136****2222");
    assert_eq!(ev.recording_url, "https://voice.example.cn/n.amr");

    let err = h
        .client
        .submit_one_key_call(req(press("DEV-404", "P-2"), &service()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let off = h
        .client
        .deactivate_device(req(
            DeactivateDeviceRequest {
                device_id: "DEV-1".into(),
                reason: "household moved".into(),
            },
            &admin(),
        ))
        .await
        .unwrap()
        .into_inner()
        .device
        .unwrap();
    assert!(!off.active && off.deactivated_at.is_some());
    let before = h.count("tickets").await;
    let err = h
        .client
        .submit_one_key_call(req(press("DEV-1", "P-3"), &service()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(h.count("tickets").await, before);
    let err = h
        .client
        .deactivate_device(req(
            DeactivateDeviceRequest {
                device_id: "DEV-1".into(),
                reason: "again".into(),
            },
            &admin(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    // Operators do not manage devices; supervisors only within their grids.
    let err = h
        .client
        .register_device(req(device("DEV-9", "341504100201"), &operator()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = h
        .client
        .register_device(req(
            device("DEV-9", "341504200301"),
            &token(Role::Supervisor, "sup", &["341504100"]),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn list_devices_pages_by_grid_subtree() {
    let mut h = start().await;
    for (id, grid) in [
        ("A-1", "341504100201"),
        ("A-2", "341504100201"),
        ("A-3", "341504100202"),
        ("A-4", "341504100203"),
        ("A-5", "341504100203"),
        ("B-1", "341504200301"),
    ] {
        h.client
            .register_device(req(device(id, grid), &admin()))
            .await
            .unwrap();
    }
    h.client
        .deactivate_device(req(
            DeactivateDeviceRequest {
                device_id: "A-5".into(),
                reason: "broken".into(),
            },
            &admin(),
        ))
        .await
        .unwrap();
    let sup = token(Role::Supervisor, "sup", &["341504100"]);
    let mut seen = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let page = h
            .client
            .list_devices(req(
                ListDevicesRequest {
                    grid_code: String::new(),
                    include_inactive: false,
                    page_size: 2,
                    page_token,
                },
                &sup,
            ))
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        seen.extend(page.devices.into_iter().map(|d| d.device_id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen, vec!["A-1", "A-2", "A-3", "A-4"]);
    assert_eq!(pages, 2);

    let village = h
        .client
        .list_devices(req(
            ListDevicesRequest {
                grid_code: "341504100203".into(),
                include_inactive: true,
                page_size: 0,
                page_token: String::new(),
            },
            &sup,
        ))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<String> = village.devices.into_iter().map(|d| d.device_id).collect();
    assert_eq!(ids, vec!["A-4", "A-5"]);

    let err = h
        .client
        .list_devices(req(
            ListDevicesRequest {
                grid_code: "341504200".into(),
                ..Default::default()
            },
            &sup,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let all = h
        .client
        .list_devices(req(ListDevicesRequest::default(), &admin()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.devices.len(), 5);
}

#[tokio::test]
async fn categories_are_managed_by_admins() {
    let mut h = start().await;
    let listed = h
        .client
        .list_categories(req(
            ListCategoriesRequest {
                include_inactive: false,
            },
            &operator(),
        ))
        .await
        .unwrap()
        .into_inner();
    let codes: Vec<String> = listed
        .categories
        .iter()
        .map(|c| c.category.as_ref().unwrap().code.clone())
        .collect();
    for code in [
        "neighbor_dispute",
        "environment",
        "public_security",
        "elderly_care",
        "consultation",
        "municipal",
        "land_housing",
        "labor_wage",
        "other",
    ] {
        assert!(codes.iter().any(|c| c == code), "{code} seeded");
    }
    let def = CategoryDefinition {
        category: Some(Category {
            code: "road_traffic".into(),
            name: "道路交通".into(),
        }),
        default_urgency: Urgency::General as i32,
        sla_class: Urgency::General as i32,
        active: true,
        display_order: 65,
    };
    let err = h
        .client
        .upsert_category(req(
            UpsertCategoryRequest {
                category: Some(def.clone()),
            },
            &operator(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    h.client
        .upsert_category(req(
            UpsertCategoryRequest {
                category: Some(def.clone()),
            },
            &admin(),
        ))
        .await
        .unwrap();
    let done = h
        .client
        .submit_hotline_ticket(req(
            hotline("C-1", "13812345678", "road_traffic"),
            &operator(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.outcome(), SubmitOutcome::Created);

    // A retired category is refused for new submissions.
    h.client
        .upsert_category(req(
            UpsertCategoryRequest {
                category: Some(CategoryDefinition {
                    active: false,
                    ..def
                }),
            },
            &admin(),
        ))
        .await
        .unwrap();
    let err = h
        .client
        .submit_hotline_ticket(req(
            hotline("C-2", "13812345678", "road_traffic"),
            &operator(),
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, "category_code");
}
