//! The loop's steps as the real callers make them: the 12345 desk, the device gateway, the
//! citizen app, a worker's mobile backend. The reads that check them are in [`crate::reads`].

use chrono::Utc;
use gridloop_client::requests::{self, Disposal, HotlineCall, Reached};
use gridloop_proto::v1::*;

use crate::System;
use crate::tokens::{self, admin, operator, req, service, supervisor};

/// Evidence every disposal carries.
pub const EVIDENCE: &str = "https://img.example.cn/evidence/1.jpg";

impl System {
    /// 12345: the operator submits a call's ticket with the caller's phone, at `grid`.
    pub async fn submit_hotline(
        &self,
        work_order: &str,
        phone: &str,
        grid: &str,
        category: &str,
    ) -> SubmitTicketResponse {
        self.remember_secret(phone);
        self.remember_secret("李秀英");
        let call = HotlineCall {
            work_order: work_order.into(),
            operator_id: tokens::OPERATOR_ID.into(),
            phone: phone.into(),
            name: Some("李秀英".into()),
            address: "城关镇幸福村1组12号".into(),
            grid_code: grid.into(),
            category_code: category.into(),
            urgency: Urgency::Unspecified,
            content: "楼上邻居深夜噪音扰民".into(),
            recording_url: "https://rec.example.cn/12345/a.mp3".into(),
        };
        let r = requests::hotline(call, Utc::now());
        self.intake
            .clone()
            .submit_hotline_ticket(req(r, &operator()))
            .await
            .expect("hotline submission")
            .into_inner()
    }

    /// Registers a one-key call device for a household in `grid`.
    pub async fn register_device(&self, device_id: &str, phone: &str, grid: &str) -> Device {
        self.remember_secret(phone);
        self.remember_secret("王桂兰");
        let r = RegisterDeviceRequest {
            device_id: device_id.into(),
            address: "城关镇幸福村1组3号".into(),
            grid_code: grid.into(),
            contact_phone: phone.into(),
            contact_name: "王桂兰".into(),
            flags: vec![HouseholdFlag::ElderlyLivingAlone as i32],
            point: None,
        };
        self.intake
            .clone()
            .register_device(req(r, &admin()))
            .await
            .expect("device registration")
            .into_inner()
            .device
            .expect("the registered device")
    }

    /// The device gateway reports a button press.
    pub async fn press(&self, device_id: &str, press_id: &str) -> SubmitTicketResponse {
        let r = requests::one_key(device_id, press_id, "", Utc::now());
        self.intake
            .clone()
            .submit_one_key_call(req(r, &service()))
            .await
            .expect("one-key call")
            .into_inner()
    }

    /// The citizen submits from the app, locating the matter by address only.
    pub async fn submit_app(
        &self,
        submission: &str,
        phone: &str,
        category: &str,
        address: &str,
    ) -> SubmitTicketResponse {
        self.remember_secret(phone);
        let submission = requests::AppSubmission {
            channel: Channel::App,
            submission_id: submission.into(),
            phone: phone.into(),
            name: None,
            content: "垃圾堆放多日无人清运".into(),
            category_code: category.into(),
            photo_urls: vec!["https://img.example.cn/app/1.jpg".into()],
            point: None,
            address: address.into(),
        };
        let r = requests::app(submission, Utc::now());
        let citizen = tokens::citizen(&self.citizen_key(phone));
        self.intake
            .clone()
            .submit_app_ticket(req(r, &citizen))
            .await
            .expect("app submission")
            .into_inner()
    }

    /// A grid worker reports what they found on patrol in `grid`, one of their posts.
    pub async fn patrol(
        &self,
        worker_id: &str,
        grid: &str,
        finding: &str,
        category: &str,
    ) -> SubmitTicketResponse {
        let finding = requests::PatrolFinding {
            finding_id: finding.into(),
            grid_code: grid.into(),
            category_code: category.into(),
            urgency: Urgency::Unspecified,
            content: "村口变压器围栏破损".into(),
            photo_urls: vec!["https://img.example.cn/patrol/1.jpg".into()],
            address: "幸福村村口".into(),
        };
        let r = requests::patrol(finding, Utc::now());
        self.intake
            .clone()
            .report_patrol_finding(req(r, &tokens::worker(worker_id, &[grid])))
            .await
            .expect("patrol finding")
            .into_inner()
    }

    /// Routing's current task of `ticket`, as a county supervisor sees it.
    pub async fn task(&self, ticket: &str) -> Task {
        self.routing
            .clone()
            .get_task(req(requests::task(ticket), &supervisor()))
            .await
            .unwrap_or_else(|e| panic!("task of {ticket}: {e}"))
            .into_inner()
            .task
            .expect("a task")
    }

    /// Settles, then returns the task, asserting routing dispatched `ticket` to `worker` at
    /// `grid` as attempt `attempt`.
    pub async fn expect_dispatch(
        &self,
        ticket: &str,
        attempt: u32,
        grid: &str,
        worker: &str,
    ) -> Task {
        self.settle().await;
        let t = self.task(ticket).await;
        assert_eq!(
            (t.attempt, t.grid_code.as_str(), t.worker_id.as_str()),
            (attempt, grid, worker),
            "dispatch of {ticket}: {}",
            t.dispatch_reason
        );
        assert_eq!(t.state(), TaskState::PendingAccept);
        t
    }

    /// 签收 by `worker`.
    pub async fn accept(&self, worker: &str, ticket: &str) -> Task {
        self.routing
            .clone()
            .accept_task(req(requests::accept(ticket), &tokens::worker(worker, &[])))
            .await
            .unwrap_or_else(|e| panic!("accept {ticket}: {e}"))
            .into_inner()
            .task
            .expect("the accepted task")
    }

    /// 退单 by `worker`: not their grid.
    pub async fn return_task(&self, worker: &str, ticket: &str) -> ReturnTaskResponse {
        self.routing
            .clone()
            .return_task(req(
                requests::give_back(ticket, ReturnReason::NotMyGrid, "不属本组"),
                &tokens::worker(worker, &[]),
            ))
            .await
            .unwrap_or_else(|e| panic!("return {ticket}: {e}"))
            .into_inner()
    }

    /// 转办 by `worker` to `to_grid`.
    pub async fn transfer(
        &self,
        worker: &str,
        ticket: &str,
        to_grid: &str,
    ) -> TransferTaskResponse {
        self.routing
            .clone()
            .transfer_task(req(
                requests::transfer(ticket, to_grid, "事发地属和平村"),
                &tokens::worker(worker, &[]),
            ))
            .await
            .unwrap_or_else(|e| panic!("transfer {ticket}: {e}"))
            .into_inner()
    }

    /// 处置 by `worker`: resolved, with evidence.
    pub async fn dispose(&self, worker: &str, ticket: &str) -> SubmitDisposalResponse {
        self.routing
            .clone()
            .submit_disposal(req(
                requests::dispose(
                    ticket,
                    Disposal::done(
                        DisposalType::Resolved,
                        "已上门协调，问题解决",
                        vec![EVIDENCE.into()],
                    ),
                    Utc::now(),
                ),
                &tokens::worker(worker, &[]),
            ))
            .await
            .unwrap_or_else(|e| panic!("dispose {ticket}: {e}"))
            .into_inner()
    }

    /// 好差评 with `token` (the citizen, or the app backend).
    pub async fn rate(&self, token: &str, ticket: &str, rating: Rating) -> SubmitFeedbackResponse {
        self.closure
            .clone()
            .submit_feedback(req(requests::feedback(ticket, rating, ""), token))
            .await
            .unwrap_or_else(|e| panic!("feedback on {ticket}: {e}"))
            .into_inner()
    }

    /// 回访: the 12345 operator reaches the caller, who gives `rating`.
    pub async fn callback(&self, ticket: &str, rating: Rating) -> RecordCallbackResponse {
        self.closure
            .clone()
            .record_callback(req(
                requests::callback(ticket, Reached::Yes(rating), "电话回访", Utc::now()),
                &operator(),
            ))
            .await
            .unwrap_or_else(|e| panic!("callback on {ticket}: {e}"))
            .into_inner()
    }

    /// Accept, dispose and rate `rating` with `rater`, settling between steps (each step's
    /// service must have seen the step before it).
    pub async fn work_and_rate(
        &self,
        worker: &str,
        ticket: &str,
        rater: &str,
        rating: Rating,
    ) -> SubmitFeedbackResponse {
        self.accept(worker, ticket).await;
        self.settle().await;
        let d = self.dispose(worker, ticket).await;
        assert_eq!(d.state(), LifecycleState::Disposed);
        self.settle().await;
        let fb = self.rate(rater, ticket, rating).await;
        self.settle().await;
        fb
    }
}
