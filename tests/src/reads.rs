//! The reads that check where a ticket stands in each service: the tracker's timeline and
//! loop status, closure's view and ledger, and the reports' figures.

use chrono::{DateTime, Utc};
use gridloop_proto::v1::*;

use crate::System;
use crate::settle::eventually;
use crate::tokens::{self, leader, req, supervisor};

impl System {
    /// The tracker's timeline of `ticket`, every page, oldest first.
    pub async fn timeline(&self, ticket: &str) -> Vec<tracker_entry::Entry> {
        let mut out = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .tracker
                .clone()
                .get_timeline(req(
                    GetTimelineRequest {
                        ticket_id: ticket.into(),
                        page_size: 100,
                        page_token,
                    },
                    &supervisor(),
                ))
                .await
                .unwrap_or_else(|e| panic!("timeline of {ticket}: {e}"))
                .into_inner();
            out.extend(page.entries);
            if page.next_page_token.is_empty() {
                return out;
            }
            page_token = page.next_page_token;
        }
    }

    /// The kinds of `ticket`'s timeline entries, oldest first.
    pub async fn timeline_kinds(&self, ticket: &str) -> Vec<String> {
        self.timeline(ticket)
            .await
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    /// Where the tracker says `ticket` stands.
    pub async fn loop_status(&self, ticket: &str) -> LoopStatus {
        self.tracker
            .clone()
            .get_loop_status(req(
                gridloop_client::requests::loop_status(ticket),
                &supervisor(),
            ))
            .await
            .unwrap_or_else(|e| panic!("loop status of {ticket}: {e}"))
            .into_inner()
            .status
            .expect("a status")
    }

    /// Closure's view of `ticket`.
    pub async fn closure_of(&self, ticket: &str) -> GetClosureResponse {
        self.closure
            .clone()
            .get_closure(req(
                GetClosureRequest {
                    ticket_id: ticket.into(),
                },
                &supervisor(),
            ))
            .await
            .unwrap_or_else(|e| panic!("closure of {ticket}: {e}"))
            .into_inner()
    }

    /// The ledger's write-offs of `ticket` in the whole county, every page.
    pub async fn ledger_entries(&self, ticket: &str) -> Vec<LedgerEntry> {
        let mut out = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .closure
                .clone()
                .get_ledger(req(
                    GetLedgerRequest {
                        grid_code: crate::county::COUNTY.into(),
                        dates: None,
                        page_size: 100,
                        page_token,
                    },
                    &leader_with_county(),
                ))
                .await
                .expect("ledger")
                .into_inner();
            out.extend(page.entries.into_iter().filter(|e| e.ticket_id == ticket));
            if page.next_page_token.is_empty() {
                return out;
            }
            page_token = page.next_page_token;
        }
    }

    /// The report of `root`'s subtree over tickets received since the system started (in
    /// Asia/Shanghai dates), broken down by `dimension` (`level`: rows' grid level).
    pub async fn report(
        &self,
        root: &str,
        dimension: ReportDimension,
        level: GridLevel,
    ) -> GetReportResponse {
        let r = GetReportRequest {
            filter: Some(ReportFilter {
                grid_code: root.into(),
                ..Default::default()
            }),
            range: Some(get_report_request::Range::CustomRange(DateRange {
                start: Some(shanghai_date(self.started_at)),
                end: Some(shanghai_date(Utc::now())),
            })),
            dimension: dimension as i32,
            group_level: level as i32,
        };
        self.reports
            .clone()
            .get_report(req(r, &leader()))
            .await
            .unwrap_or_else(|e| panic!("report of {root}: {e}"))
            .into_inner()
    }

    /// The totals of `root`'s report.
    pub async fn totals(&self, root: &str) -> Indicators {
        self.report(root, ReportDimension::None, GridLevel::Unspecified)
            .await
            .totals
            .expect("report totals")
    }

    /// Waits until the tracker's timeline of `ticket` has an entry of `kind`.
    pub async fn wait_timeline(&self, ticket: &str, kind: &str) -> Vec<tracker_entry::Entry> {
        eventually(&format!("{kind} in the timeline of {ticket}"), || async {
            let entries = self.timeline(ticket).await;
            if entries.iter().any(|e| e.kind == kind) {
                Ok(entries)
            } else {
                Err(format!(
                    "{:?}",
                    entries.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>()
                ))
            }
        })
        .await
    }
}

/// Timeline entries under a short name.
pub mod tracker_entry {
    pub use gridloop_proto::v1::TimelineEntry as Entry;
}

/// A leader of the county with the county as scope (the ledger lists the caller's grids).
fn leader_with_county() -> String {
    tokens::token(
        gridloop_platform::auth::Role::Leader,
        "leader-1",
        &[crate::county::COUNTY],
    )
}

/// The Asia/Shanghai date of `t`.
pub fn shanghai_date(t: DateTime<Utc>) -> Date {
    use chrono::Datelike;
    let d = t
        .with_timezone(&gridloop_lifecycle::calendar::shanghai())
        .date_naive();
    Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}
