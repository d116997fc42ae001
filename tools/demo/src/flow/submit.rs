//! How each channel submits a demo ticket: the 12345 desk, the device gateway, the app (and
//! the mailbox and web form), a grid worker on patrol — each as that caller, with its own
//! idempotency key, so a repeat is merged and a rerun is a new ticket.

use gridloop_client::requests;
use gridloop_client::retry::{retry, unavailable};
use gridloop_proto::v1 as pb;

use super::{APP, CATCH_UP, Demo, Flow, GATEWAY, OPERATOR};
use crate::county::TOWN;
use crate::plan::{Chan, Plan, content};
use crate::rpc::{As, why};

impl Demo {
    fn phone(&self, p: &Plan) -> String {
        format!("137{:03}{:05}", self.run_digits, p.n)
    }

    /// The worker who patrols a group: its A post holder, or B when A is away.
    fn patroller(&self, group: usize) -> usize {
        let a = self.county.group_a[group];
        let s = &self.county.staff[a];
        if s.leave.is_none() && s.off_duty.is_none() {
            return a;
        }
        let code = &self.county.groups[group].code;
        self.county
            .staff
            .iter()
            .position(|s| s.posts.iter().any(|(c, p)| c == code && *p == pb::Post::B))
            .unwrap_or(a)
    }

    fn address(&self, group: usize, n: usize) -> String {
        let g = &self.county.groups[group];
        let v = &self.county.villages[g.village];
        // Half say the group's formal name, half the alias people use.
        if n.is_multiple_of(2) {
            format!("{}{}{}号", TOWN.1, g.name, n % 60 + 1)
        } else {
            format!("{}{}{}号附近", v.name, g.alias, n % 60 + 1)
        }
    }

    /// Submits the plan's ticket (or, with `k` > 0, its k-th repeat). Returns the ticket id
    /// and the outcome.
    pub(super) async fn submit(&self, p: &Plan, k: usize) -> Flow<(String, pb::SubmitOutcome)> {
        let ext = format!("{}-{:04}-{k}", self.run, p.n);
        let now = chrono::Utc::now();
        let phone = self.phone(p);
        let g = &self.county.groups[p.group];
        let urgency = if p.urgent {
            pb::Urgency::Urgent
        } else {
            pb::Urgency::Unspecified
        };
        let text = content(p.category, p.n).to_string();
        let rpc = &self.rpc;
        let resp = match p.chan {
            Chan::Hotline => {
                let call = requests::HotlineCall {
                    work_order: format!("12345-{ext}"),
                    operator_id: OPERATOR.into(),
                    phone,
                    name: Some(crate::county::person_name(p.n + 1000)),
                    address: self.address(p.group, p.n),
                    grid_code: if p.n.is_multiple_of(3) {
                        g.code.clone()
                    } else {
                        String::new()
                    },
                    category_code: p.category.into(),
                    urgency,
                    content: text,
                    recording_url: format!("https://rec.12345.example.cn/{ext}.mp3"),
                };
                let msg = requests::hotline(call, now);
                retry(CATCH_UP, unavailable, || {
                    let req = rpc.req(As::Operator(OPERATOR), msg.clone());
                    let mut c = rpc.intake();
                    async move { c.submit_hotline_ticket(req).await }
                })
                .await
            }
            Chan::OneKey(h) => {
                let device = &self.county.households[h].device_id;
                let msg = requests::one_key(device, format!("press-{ext}"), "", now);
                retry(CATCH_UP, unavailable, || {
                    let req = rpc.req(As::Service(GATEWAY), msg.clone());
                    let mut c = rpc.intake();
                    async move { c.submit_one_key_call(req).await }
                })
                .await
            }
            Chan::App(channel) => {
                let point = g.centre.filter(|_| p.n.is_multiple_of(2));
                let submission = requests::AppSubmission {
                    channel,
                    submission_id: format!("{}-{ext}", channel.as_str_name().to_lowercase()),
                    phone,
                    name: None,
                    content: text,
                    category_code: p.category.into(),
                    photo_urls: if channel == pb::Channel::App {
                        vec![format!("https://img.example.cn/app/{ext}.jpg")]
                    } else {
                        vec![]
                    },
                    point: point.map(|(lat, lng)| pb::GeoPoint { lat, lng }),
                    address: self.address(p.group, p.n),
                };
                let msg = requests::app(submission, now);
                retry(CATCH_UP, unavailable, || {
                    let req = rpc.req(As::Service(APP), msg.clone());
                    let mut c = rpc.intake();
                    async move { c.submit_app_ticket(req).await }
                })
                .await
            }
            Chan::Patrol => {
                let w = &self.worker_ids[self.patroller(p.group)];
                let finding = requests::PatrolFinding {
                    finding_id: format!("patrol-{ext}"),
                    grid_code: g.code.clone(),
                    category_code: p.category.into(),
                    urgency,
                    content: format!("巡查发现:{text}"),
                    photo_urls: vec![format!("https://img.example.cn/patrol/{ext}.jpg")],
                    address: self.address(p.group, p.n),
                };
                let msg = requests::patrol(finding, now);
                retry(CATCH_UP, unavailable, || {
                    let req = rpc.req(As::WorkerIn(w, &g.code), msg.clone());
                    let mut c = rpc.intake();
                    async move { c.report_patrol_finding(req).await }
                })
                .await
            }
        }
        .map_err(|s| why("submit", &s))?
        .into_inner();
        let outcome = pb::SubmitOutcome::try_from(resp.outcome).unwrap_or_default();
        Ok((resp.ticket_id, outcome))
    }
}
