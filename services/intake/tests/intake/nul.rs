//! A NUL byte in any text field intake takes is `INVALID_ARGUMENT` naming that field (it would
//! otherwise reach PostgreSQL, which refuses it in text, as an internal error).

use gridloop_platform::auth::Role;
use gridloop_proto::v1::*;

use crate::support::*;

const NUL: &str = "a\0b";

#[tokio::test]
async fn a_nul_byte_is_refused_naming_the_field() {
    let h = start().await;
    let mut c = h.client.clone();

    type Hotline = fn(&mut SubmitHotlineTicketRequest);
    let hotline_cases: Vec<(&str, Hotline)> = vec![
        ("external_id", |r| r.external_id = NUL.into()),
        ("operator_id", |r| r.operator_id = NUL.into()),
        ("caller_phone", |r| {
            r.caller_phone = "1381234\x005678".into()
        }),
        ("caller_name", |r| r.caller_name = Some(NUL.into())),
        ("address", |r| r.address = NUL.into()),
        ("grid_code", |r| r.grid_code = NUL.into()),
        ("category_code", |r| r.category_code = NUL.into()),
        ("content", |r| r.content = NUL.into()),
        ("recording_url", |r| {
            r.recording_url = "https://a.cn/\0".into()
        }),
    ];
    for (field, edit) in hotline_cases {
        let mut r = hotline("NUL-1", "13812345678", "environment");
        edit(&mut r);
        let err = c
            .submit_hotline_ticket(req(r, &operator()))
            .await
            .unwrap_err();
        assert_invalid(&err, field);
    }

    type App = fn(&mut SubmitAppTicketRequest);
    let app_cases: Vec<(&str, App)> = vec![
        ("submission_id", |r| r.submission_id = NUL.into()),
        ("citizen_phone", |r| {
            r.citizen_phone = "1381234\x005678".into()
        }),
        ("citizen_name", |r| r.citizen_name = Some(NUL.into())),
        ("content", |r| r.content = NUL.into()),
        ("address", |r| r.address = NUL.into()),
        ("photo_urls[0]", |r| {
            r.photo_urls = vec!["https://a.cn/\0".into()]
        }),
    ];
    for (field, edit) in app_cases {
        let mut r = app_ticket("NUL-A", "13812345678", "environment");
        edit(&mut r);
        let err = c.submit_app_ticket(req(r, &service())).await.unwrap_err();
        assert_invalid(&err, field);
    }

    let worker = token(Role::Worker, "w-1", &["341504100201"]);
    let patrol = ReportPatrolFindingRequest {
        finding_id: "PF-N".into(),
        grid_code: "341504100201".into(),
        category_code: "environment".into(),
        urgency: 0,
        content: NUL.into(),
        photo_urls: vec![],
        location: None,
        found_at: Some(now_ts()),
    };
    let err = c
        .report_patrol_finding(req(patrol.clone(), &worker))
        .await
        .unwrap_err();
    assert_invalid(&err, "content");
    let err = c
        .report_patrol_finding(req(
            ReportPatrolFindingRequest {
                finding_id: NUL.into(),
                content: "垃圾".into(),
                ..patrol
            },
            &worker,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, "finding_id");

    let press = |device: &str, id: &str| SubmitOneKeyCallRequest {
        device_id: device.into(),
        press_id: id.into(),
        pressed_at: Some(now_ts()),
        voice_note_url: String::new(),
    };
    let err = c
        .submit_one_key_call(req(press(NUL, "p"), &service()))
        .await
        .unwrap_err();
    assert_invalid(&err, "device_id");
    let err = c
        .submit_one_key_call(req(press("D", NUL), &service()))
        .await
        .unwrap_err();
    assert_invalid(&err, "press_id");

    let device = RegisterDeviceRequest {
        device_id: "DEV-N".into(),
        address: "幸福村3组12号".into(),
        grid_code: "341504100201".into(),
        contact_phone: "13611112222".into(),
        contact_name: "王秀英".into(),
        flags: vec![],
        point: None,
    };
    type Device = fn(&mut RegisterDeviceRequest);
    let device_cases: Vec<(&str, Device)> = vec![
        ("device_id", |r| r.device_id = NUL.into()),
        ("address", |r| r.address = NUL.into()),
        ("contact_phone", |r| {
            r.contact_phone = "1361111\x002222".into()
        }),
        ("contact_name", |r| r.contact_name = NUL.into()),
    ];
    for (field, edit) in device_cases {
        let mut r = device.clone();
        edit(&mut r);
        let err = c.register_device(req(r, &admin())).await.unwrap_err();
        assert_invalid(&err, field);
    }
    c.register_device(req(device, &admin()))
        .await
        .expect("registered");
    let err = c
        .deactivate_device(req(
            DeactivateDeviceRequest {
                device_id: "DEV-N".into(),
                reason: NUL.into(),
            },
            &admin(),
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, "reason");

    let category = |code: &str, name: &str| UpsertCategoryRequest {
        category: Some(CategoryDefinition {
            category: Some(Category {
                code: code.into(),
                name: name.into(),
            }),
            default_urgency: Urgency::General as i32,
            sla_class: Urgency::General as i32,
            active: true,
            display_order: 1,
        }),
    };
    let err = c
        .upsert_category(req(category(NUL, "名"), &admin()))
        .await
        .unwrap_err();
    assert_invalid(&err, "category.category.code");
    let err = c
        .upsert_category(req(category("c1", NUL), &admin()))
        .await
        .unwrap_err();
    assert_invalid(&err, "category.category.name");

    let err = c
        .get_ticket(req(
            GetTicketRequest {
                ticket_id: NUL.into(),
            },
            &operator(),
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, "ticket_id");
    let err = c
        .find_tickets(req(
            FindTicketsRequest {
                phone: "1381234\x005678".into(),
                ..Default::default()
            },
            &operator(),
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, "phone");
    let err = c
        .find_tickets(req(
            FindTicketsRequest {
                channel: Channel_::Hotline12345 as i32,
                external_id: NUL.into(),
                ..Default::default()
            },
            &operator(),
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, "external_id");
    assert_eq!(h.count("tickets").await, 0);
}
