//! Every validation rule: `INVALID_ARGUMENT` naming the field, and nothing written.

use gridloop_platform::auth::Role;
use gridloop_proto::v1::*;

use crate::support::*;

fn future(minutes: i64) -> Option<prost_types::Timestamp> {
    Some(gridloop_proto::ts(
        chrono::Utc::now() + chrono::Duration::minutes(minutes),
    ))
}

#[tokio::test]
async fn every_bad_field_is_named_and_nothing_is_written() {
    let mut h = start().await;
    type Edit = fn(&mut SubmitHotlineTicketRequest);
    let hotline_cases: Vec<(&str, Edit)> = vec![
        ("external_id", |r| r.external_id = String::new()),
        ("external_id", |r| r.external_id = "x".repeat(129)),
        ("operator_id", |r| r.operator_id = " ".into()),
        ("caller_phone", |r| r.caller_phone = "12812345678".into()),
        ("caller_phone", |r| r.caller_phone = "88001234".into()),
        ("caller_phone", |r| r.caller_phone = String::new()),
        ("caller_name", |r| r.caller_name = Some("张\u{0}三".into())),
        ("content", |r| r.content = String::new()),
        ("content", |r| r.content = "字".repeat(2001)),
        ("content", |r| r.content = "噪音\u{1b}[31m".into()),
        ("category_code", |r| r.category_code = "aliens".into()),
        ("category_code", |r| r.category_code = String::new()),
        ("urgency", |r| r.urgency = 99),
        ("recording_url", |r| {
            r.recording_url = "ftp://rec.example.cn/a.mp3".into()
        }),
        ("recording_url", |r| {
            r.recording_url = "javascript:alert(1)".into()
        }),
        ("received_at", |r| r.received_at = future(10)),
        ("received_at", |r| r.received_at = None),
        ("grid_code", |r| r.grid_code = "34'; DROP".into()),
    ];
    for (field, edit) in hotline_cases {
        let mut r = hotline("V-1", "13812345678", "environment");
        edit(&mut r);
        let err = h
            .client
            .submit_hotline_ticket(req(r, &operator()))
            .await
            .unwrap_err();
        assert_invalid(&err, field);
    }
    // Four minutes ahead is within the allowed clock skew.
    let mut skew = hotline("V-OK", "0571-88001234", "environment");
    skew.received_at = future(4);
    let ok = h.client.submit_hotline_ticket(req(skew, &operator())).await;
    assert!(ok.is_ok(), "{ok:?}");
    assert_eq!(h.count("tickets").await, 1);

    type AppEdit = fn(&mut SubmitAppTicketRequest);
    let app_cases: Vec<(&str, AppEdit)> = vec![
        ("channel", |r| r.channel = Channel_::Patrol as i32),
        ("submission_id", |r| r.submission_id = String::new()),
        ("citizen_phone", |r| r.citizen_phone = "1381234567".into()),
        ("photo_urls", |r| {
            r.photo_urls = (0..10)
                .map(|i| format!("https://img.example.cn/{i}.jpg"))
                .collect()
        }),
        ("photo_urls[1]", |r| {
            r.photo_urls = vec![
                "https://img.example.cn/1.jpg".into(),
                "file:///etc/passwd".into(),
            ]
        }),
        ("point.lat", |r| {
            r.point = Some(GeoPoint {
                lat: 91.0,
                lng: 0.0,
            })
        }),
        ("point.lng", |r| {
            r.point = Some(GeoPoint {
                lat: 0.0,
                lng: -180.5,
            })
        }),
        ("address", |r| r.point = None),
        ("submitted_at", |r| r.submitted_at = future(6)),
        ("content", |r| r.content = "\u{7}".into()),
    ];
    for (field, edit) in app_cases {
        let mut r = app_ticket("VA-1", "13812345678", "environment");
        edit(&mut r);
        let err = h
            .client
            .submit_app_ticket(req(r, &service()))
            .await
            .unwrap_err();
        assert_invalid(&err, field);
    }

    let worker = token(Role::Worker, "w-1", &["341504100201"]);
    let patrol = ReportPatrolFindingRequest {
        finding_id: "PF-V".into(),
        grid_code: String::new(),
        category_code: "environment".into(),
        urgency: 0,
        content: "垃圾堆放".into(),
        photo_urls: vec![],
        location: None,
        found_at: Some(now_ts()),
    };
    let err = h
        .client
        .report_patrol_finding(req(patrol, &worker))
        .await
        .unwrap_err();
    assert_invalid(&err, "grid_code");

    let press = SubmitOneKeyCallRequest {
        device_id: "DEV-X".into(),
        press_id: String::new(),
        pressed_at: Some(now_ts()),
        voice_note_url: String::new(),
    };
    let err = h
        .client
        .submit_one_key_call(req(press, &service()))
        .await
        .unwrap_err();
    assert_invalid(&err, "press_id");

    // Only the one valid submission was written, with its one event.
    assert_eq!(h.count("tickets").await, 1);
    assert_eq!(h.count("outbox").await, 1);
}
