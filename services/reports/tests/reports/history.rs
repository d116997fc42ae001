//! Random but lifecycle-legal event histories: each ticket walks the loop (discovered →
//! dispatched → accepted → disposed → feedback → closed, with returns, transfers, fallback
//! desks, rework, overdue deadlines, exemptions, repeats merged into earlier tickets, and
//! tickets left open at any step); the tickets' events are interleaved by time.

use chrono::{DateTime, Duration, TimeZone, Utc};
use gridloop_proto::ts;
use gridloop_proto::v1 as pb;
use pb::ticket_event::Body;
use uuid::Uuid;

/// splitmix64: a small seeded generator, so a failing history can be replayed by its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

pub const COUNTY: &str = "341504";
pub const TOWNS: [&str; 2] = ["341504100", "341504200"];

/// Groups (leaves) of the test tree: 2 towns × 2 villages × 2 groups.
pub fn groups() -> Vec<String> {
    let mut out = Vec::new();
    for t in TOWNS {
        for v in ["201", "202"] {
            for g in ["001", "002"] {
                out.push(format!("{t}{v}{g}"));
            }
        }
    }
    out
}

pub fn grid_name(code: &str) -> String {
    format!("网格{code}")
}

const CATEGORIES: [(&str, &str); 4] = [
    ("environment", "环境卫生"),
    ("neighbor_dispute", "邻里纠纷"),
    ("municipal", "市政设施"),
    ("elderly_care", "养老助残"),
];

fn event(ticket: Uuid, at: DateTime<Utc>, producer: &str, body: Body) -> pb::TicketEvent {
    pb::TicketEvent {
        event_id: Uuid::now_v7().to_string(),
        ticket_id: ticket.to_string(),
        occurred_at: Some(ts(at)),
        producer: producer.into(),
        trace_context: Default::default(),
        body: Some(body),
    }
}

struct Walk<'a> {
    rng: &'a mut Rng,
    id: Uuid,
    at: DateTime<Utc>,
    out: Vec<pb::TicketEvent>,
    grid: String,
    worker: String,
    attempt: u32,
    category: pb::Category,
    channel: pb::Channel,
}

impl Walk<'_> {
    fn tick(&mut self) -> DateTime<Utc> {
        // Steps minutes to a few days apart, so handling times cross nights and weekends.
        self.at += Duration::minutes(1 + self.rng.below(3 * 24 * 60) as i64);
        self.at
    }
    fn push(&mut self, producer: &str, body: Body) {
        let at = self.tick();
        self.out.push(event(self.id, at, producer, body));
    }
    fn dispatch(&mut self, grid: &str, trigger: pb::DispatchTrigger, rework: u32) {
        self.attempt += 1;
        self.grid = grid.to_string();
        self.worker = format!("w-{grid}");
        let level = gridloop_reports::domain::level_of(grid);
        let body = Body::Dispatched(pb::TicketDispatched {
            grid_code: grid.into(),
            grid_level: level as i32,
            grid_name: grid_name(grid),
            worker_id: self.worker.clone(),
            attempt: self.attempt,
            trigger: trigger as i32,
            category: Some(self.category.clone()),
            channel: self.channel as i32,
            rework_count: rework,
            ..Default::default()
        });
        self.push("routing", body);
    }
    fn accept(&mut self) {
        let on_time = self.rng.chance(70);
        let body = Body::Accepted(pb::TicketAccepted {
            worker_id: self.worker.clone(),
            grid_code: self.grid.clone(),
            attempt: self.attempt,
            on_time,
        });
        self.push("routing", body);
    }
    fn overdue(&mut self) {
        let body = Body::Overdue(pb::TicketOverdue {
            deadline_kind: pb::DeadlineKind::Dispose as i32,
            grid_code: self.grid.clone(),
            worker_id: self.worker.clone(),
            ..Default::default()
        });
        self.push("tracker", body);
    }
    fn dispose(&mut self, rework: u32) {
        let body = Body::Disposed(pb::TicketDisposed {
            worker_id: self.worker.clone(),
            grid_code: self.grid.clone(),
            disposal_type: pb::DisposalType::Resolved as i32,
            rework_count: rework,
            ..Default::default()
        });
        self.push("closure", body);
    }
    fn rate(&mut self, rating: pb::Rating) {
        let body = Body::FeedbackRecorded(pb::TicketFeedbackRecorded {
            rating: rating as i32,
            source: pb::FeedbackSource::Citizen as i32,
            reached: true,
            ..Default::default()
        });
        self.push("closure", body);
    }
}

/// One history of `tickets` tickets, in publish order.
pub fn generate(seed: u64, tickets: usize) -> Vec<pb::TicketEvent> {
    let mut rng = Rng::new(seed);
    let groups = groups();
    // Received between 2026-09-20 and 2026-12-20 (Shanghai): months, a quarter boundary and
    // the National Day holidays.
    let start = Utc.with_ymd_and_hms(2026, 9, 19, 16, 0, 0).unwrap();
    let mut all: Vec<pb::TicketEvent> = Vec::new();
    let mut earlier: Vec<(Uuid, DateTime<Utc>)> = Vec::new();
    for _ in 0..tickets {
        let id = Uuid::now_v7();
        let received = start + Duration::minutes(rng.below(91 * 24 * 60) as i64);
        let (code, name) = *rng.pick(&CATEGORIES);
        let category = pb::Category {
            code: code.into(),
            name: name.into(),
        };
        let channel = *rng.pick(&[
            pb::Channel::Hotline12345,
            pb::Channel::App,
            pb::Channel::OneKeyCall,
            pb::Channel::Patrol,
        ]);
        let home = rng.pick(&groups).clone();
        let located = rng.chance(60);
        let location = pb::Location {
            grid_code: if located { home.clone() } else { String::new() },
            ..Default::default()
        };
        // A repeat merged into an earlier ticket received before it.
        if rng.chance(12) {
            let parents: Vec<_> = earlier.iter().filter(|(_, r)| *r < received).collect();
            if !parents.is_empty() {
                let (parent, _) = **rng.pick(&parents);
                let at = received + Duration::minutes(5);
                all.push(event(
                    id,
                    at,
                    "intake",
                    Body::Merged(pb::TicketMerged {
                        parent_ticket_id: parent.to_string(),
                        repeat_count: 1,
                        channel: channel as i32,
                        category: Some(category),
                        location: Some(location),
                        received_at: Some(ts(received)),
                        ..Default::default()
                    }),
                ));
                continue;
            }
        }
        earlier.push((id, received));
        let mut w = Walk {
            rng: &mut rng,
            id,
            at: received,
            out: Vec::new(),
            grid: String::new(),
            worker: String::new(),
            attempt: 0,
            category: category.clone(),
            channel,
        };
        w.push(
            "intake",
            Body::Discovered(pb::TicketDiscovered {
                channel: channel as i32,
                category: Some(category),
                location: Some(location),
                received_at: Some(ts(received)),
                ..Default::default()
            }),
        );
        all.extend(walk(&mut w, &home, &groups));
    }
    all.sort_by_key(|e| {
        let t = e.occurred_at.unwrap();
        (t.seconds, t.nanos)
    });
    all
}

fn walk(w: &mut Walk<'_>, home: &str, groups: &[String]) -> Vec<pb::TicketEvent> {
    if w.rng.chance(8) {
        if w.rng.chance(50) {
            w.overdue();
        }
        return std::mem::take(&mut w.out);
    }
    if w.rng.chance(10) {
        // No grid matched: the town's desk takes it.
        let desk = home[..9].to_string();
        w.push(
            "routing",
            Body::Unroutable(pb::TicketUnroutable {
                cause: pb::UnroutableCause::NoGridMatch as i32,
                fallback_grid_code: desk.clone(),
                fallback_grid_level: pb::GridLevel::Town as i32,
                ..Default::default()
            }),
        );
        w.dispatch(&desk, pb::DispatchTrigger::Discovered, 0);
    } else {
        w.dispatch(home, pb::DispatchTrigger::Discovered, 0);
    }
    if w.rng.chance(15) {
        let from = w.grid.clone();
        w.push(
            "routing",
            Body::Returned(pb::TicketReturned {
                worker_id: w.worker.clone(),
                grid_code: from,
                reason: pb::ReturnReason::NotMyGrid as i32,
                return_count: 1,
                ..Default::default()
            }),
        );
        let other = w.rng.pick(groups).clone();
        w.dispatch(&other, pb::DispatchTrigger::Returned, 0);
    }
    if w.rng.chance(10) {
        return std::mem::take(&mut w.out);
    }
    w.accept();
    if w.rng.chance(20) {
        w.overdue();
    }
    if w.rng.chance(10) {
        let to = w.rng.pick(groups).clone();
        w.push(
            "routing",
            Body::Transferred(pb::TicketTransferred {
                from_grid_code: w.grid.clone(),
                to_grid_code: to.clone(),
                from_worker_id: w.worker.clone(),
                ..Default::default()
            }),
        );
        if w.rng.chance(20) {
            return std::mem::take(&mut w.out);
        }
        w.dispatch(&to, pb::DispatchTrigger::Transferred, 0);
        w.accept();
    }
    if w.rng.chance(10) {
        return std::mem::take(&mut w.out);
    }
    let mut rework = 0;
    loop {
        w.dispose(rework);
        if w.rng.chance(8) {
            return std::mem::take(&mut w.out);
        }
        if w.rng.chance(10) {
            // Callbacks never reach the citizen: closed by exemption.
            w.push(
                "closure",
                Body::FeedbackRecorded(pb::TicketFeedbackRecorded {
                    rating: pb::Rating::Unspecified as i32,
                    source: pb::FeedbackSource::Callback as i32,
                    unreached_attempts: 3,
                    exemption_eligible: true,
                    ..Default::default()
                }),
            );
            close(w, None, rework);
            return std::mem::take(&mut w.out);
        }
        let rating = *w.rng.pick(&[
            pb::Rating::Satisfied,
            pb::Rating::Satisfied,
            pb::Rating::BasicallySatisfied,
            pb::Rating::Dissatisfied,
        ]);
        w.rate(rating);
        if rating != pb::Rating::Dissatisfied {
            if w.rng.chance(5) {
                // Rated but not yet written off.
                return std::mem::take(&mut w.out);
            }
            close(w, Some(rating), rework);
            return std::mem::take(&mut w.out);
        }
        rework += 1;
        w.push(
            "closure",
            Body::Reopened(pb::TicketReopened {
                rework_count: rework,
                worker_id: w.worker.clone(),
                grid_code: w.grid.clone(),
                ..Default::default()
            }),
        );
        let grid = w.grid.clone();
        w.dispatch(&grid, pb::DispatchTrigger::Reopened, rework);
        if w.rng.chance(10) {
            return std::mem::take(&mut w.out);
        }
        w.accept();
    }
}

fn close(w: &mut Walk<'_>, rating: Option<pb::Rating>, rework: u32) {
    let basis = match rating {
        Some(r) => pb::ticket_closed::Basis::Rating(r as i32),
        None => pb::ticket_closed::Basis::Exemption(pb::Exemption {
            kind: pb::ExemptionKind::CitizenUnreachable as i32,
            ..Default::default()
        }),
    };
    let on_time = w.rng.chance(75);
    let body = Body::Closed(pb::TicketClosed {
        basis: Some(basis),
        rework_count: rework,
        on_time,
        grid_code: w.grid.clone(),
        worker_id: w.worker.clone(),
        ..Default::default()
    });
    w.push("closure", body);
}
