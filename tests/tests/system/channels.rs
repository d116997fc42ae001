//! One ticket from each channel — 12345 hotline, one-key call, citizen app, patrol — through
//! 发现 → 上报 → 处置 → 反馈 → 销号, and where it shows up afterwards.

use gridloop_proto::v1::*;
use gridloop_system_tests::System;
use gridloop_system_tests::county::*;
use gridloop_system_tests::tokens::{citizen, service};

use crate::checks::{Closed, assert_closed_everywhere, row};

const LOOP: &[&str] = &[
    "discovered",
    "dispatched",
    "accepted",
    "disposed",
    "feedback_recorded",
    "closed",
];

#[tokio::test]
async fn hotline_ticket_closes_on_a_satisfied_callback() {
    let sys = System::start().await;
    let c = sys.seed_county().await;

    let sub = sys
        .submit_hotline("GD-20261116-001", "13812345678", G11, "neighbor_dispute")
        .await;
    assert_eq!(sub.outcome(), SubmitOutcome::Created);
    let t = sub.ticket_id.as_str();
    // 邻里纠纷 is handled at the group: the A post of 幸福村1组.
    let task = sys.expect_dispatch(t, 1, G11, &c.a_g11).await;
    assert_eq!(task.post(), Post::A);
    assert_eq!(task.channel(), Channel::Hotline12345);
    assert_eq!(task.contact.unwrap().masked_phone, "138****5678");

    sys.accept(&c.a_g11, t).await;
    sys.settle().await;
    sys.dispose(&c.a_g11, t).await;
    sys.settle().await;
    let cb = sys.callback(t, Rating::Satisfied).await;
    assert_eq!(cb.state(), LifecycleState::Closed);

    assert_closed_everywhere(
        &sys,
        &Closed {
            ticket: t,
            channel: Channel::Hotline12345,
            grid: G11,
            worker: &c.a_g11,
            rating: Rating::Satisfied,
            rework: 0,
            kinds: LOOP,
        },
    )
    .await;
    // Routing closed the task; intake answers a caller who rings again.
    sys.settle().await;
    assert_eq!(sys.task(t).await.state(), TaskState::Closed);
    let by_village = sys
        .report(TOWN, ReportDimension::Grid, GridLevel::Village)
        .await;
    let v1 = row(&by_village, V1).expect("a row for 幸福村");
    assert_eq!((v1.received, v1.closed), (1, 1));
    assert_eq!(row(&by_village, V2).map_or(0, |r| r.received), 0);
    assert!(sys.assert_no_pii_on_stream().await >= LOOP.len());
}

#[tokio::test]
async fn one_key_call_of_a_registered_household_closes() {
    let sys = System::start().await;
    let c = sys.seed_county().await;
    sys.register_device("YJ-0001", "13611112222", G12).await;

    let sub = sys.press("YJ-0001", "press-1").await;
    assert_eq!(sub.outcome(), SubmitOutcome::Created);
    // An elderly person living alone: raised to urgent.
    assert_eq!(sub.urgency(), Urgency::Urgent);
    let t = sub.ticket_id.as_str();
    // One-key calls carry no text: category `other`, handled at the village (幸福村).
    let task = sys.expect_dispatch(t, 1, V1, &c.a_v1).await;
    assert_eq!(task.channel(), Channel::OneKeyCall);

    let fb = sys
        .work_and_rate(&c.a_v1, t, &service(), Rating::Satisfied)
        .await;
    assert_eq!(fb.state(), LifecycleState::Closed);
    assert_closed_everywhere(
        &sys,
        &Closed {
            ticket: t,
            channel: Channel::OneKeyCall,
            grid: V1,
            worker: &c.a_v1,
            rating: Rating::Satisfied,
            rework: 0,
            kinds: LOOP,
        },
    )
    .await;
    let by_channel = sys
        .report(COUNTY, ReportDimension::Channel, GridLevel::Unspecified)
        .await;
    assert_eq!(by_channel.rows.len(), 1, "one channel had tickets");
    let ind = by_channel.rows[0].indicators.as_ref().unwrap();
    assert_eq!((ind.received, ind.closed), (1, 1));
    sys.assert_no_pii_on_stream().await;
}

#[tokio::test]
async fn app_ticket_found_by_address_closes_on_the_citizens_rating() {
    let sys = System::start().await;
    let c = sys.seed_county().await;
    let phone = "13700001111";

    let sub = sys
        .submit_app("APP-7731", phone, "environment", "城关镇和平村1组5号门口")
        .await;
    assert_eq!(sub.outcome(), SubmitOutcome::Created);
    let t = sub.ticket_id.as_str();
    // The address names 和平村1组; 环境卫生 is handled at the village: 和平村.
    sys.expect_dispatch(t, 1, V2, &c.a_v2).await;

    let me = citizen(&sys.citizen_key(phone));
    sys.accept(&c.a_v2, t).await;
    sys.settle().await;
    sys.dispose(&c.a_v2, t).await;
    sys.settle().await;
    // Another citizen may not rate it.
    let other = citizen(&sys.citizen_key("13700002222"));
    let err = sys
        .closure
        .clone()
        .submit_feedback(gridloop_system_tests::tokens::req(
            SubmitFeedbackRequest {
                ticket_id: t.into(),
                rating: Rating::Dissatisfied as i32,
                comment: String::new(),
            },
            &other,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err}");
    let fb = sys.rate(&me, t, Rating::BasicallySatisfied).await;
    assert_eq!(fb.state(), LifecycleState::Closed);

    assert_closed_everywhere(
        &sys,
        &Closed {
            ticket: t,
            channel: Channel::App,
            grid: V2,
            worker: &c.a_v2,
            rating: Rating::BasicallySatisfied,
            rework: 0,
            kinds: LOOP,
        },
    )
    .await;
    sys.assert_no_pii_on_stream().await;
}

#[tokio::test]
async fn patrol_finding_goes_to_the_village_and_closes() {
    let sys = System::start().await;
    let c = sys.seed_county().await;

    // The group's worker finds it; 治安隐患 is the village's matter.
    let sub = sys
        .patrol(&c.a_g11, G11, "PF-0001", "public_security")
        .await;
    assert_eq!(sub.outcome(), SubmitOutcome::Created);
    let t = sub.ticket_id.as_str();
    let task = sys.expect_dispatch(t, 1, V1, &c.a_v1).await;
    assert_eq!(task.channel(), Channel::Patrol);
    assert!(task.contact.is_none_or(|c| c.masked_phone.is_empty()));

    let fb = sys
        .work_and_rate(&c.a_v1, t, &service(), Rating::Satisfied)
        .await;
    assert_eq!(fb.state(), LifecycleState::Closed);
    assert_closed_everywhere(
        &sys,
        &Closed {
            ticket: t,
            channel: Channel::Patrol,
            grid: V1,
            worker: &c.a_v1,
            rating: Rating::Satisfied,
            rework: 0,
            kinds: LOOP,
        },
    )
    .await;
    // The discovery names the finder.
    let timeline = sys.timeline(t).await;
    assert_eq!(
        timeline[0].actor.as_ref().map(|a| a.id.as_str()),
        Some(c.a_g11.as_str())
    );
    sys.assert_no_pii_on_stream().await;
}
