//! A small county, seeded through routing's RPCs as a grid office would: 清河县 → 城关镇 →
//! 幸福村 (groups 1组, 2组) and 和平村 (group 1组), grid workers on A and B posts, a desk
//! worker at the town and a chief for each village and the town.
//!
//! Codes are administrative codes (county 6 characters, town 9, village 12, group 15): a
//! child's code extends its parent's, which closure, tracker and reports rely on for scopes.

use gridloop_proto::v1::{
    Grid, GridLevel, Post, PostAssignment, UpsertGridRequest, UpsertWorkerRequest, WorkerRole,
};

use crate::System;
use crate::tokens::{admin, req};

pub const COUNTY: &str = "341504";
pub const TOWN: &str = "341504100";
/// 幸福村.
pub const V1: &str = "341504100201";
/// 和平村.
pub const V2: &str = "341504100202";
/// 幸福村1组.
pub const G11: &str = "341504100201001";
/// 幸福村2组.
pub const G12: &str = "341504100201002";
/// 和平村1组.
pub const G21: &str = "341504100202001";

/// Routing's worker ids of the seeded county.
#[derive(Clone, Debug)]
pub struct County {
    /// A post at 幸福村1组.
    pub a_g11: String,
    /// B post at 幸福村1组.
    pub b_g11: String,
    /// A post at 幸福村2组.
    pub a_g12: String,
    /// A post at 和平村1组.
    pub a_g21: String,
    /// A post at 幸福村 (village-level matters).
    pub a_v1: String,
    /// A post at 和平村.
    pub a_v2: String,
    /// A post at 城关镇 (town-level matters and the 兜底 desk).
    pub a_town: String,
    /// 网格长 of 幸福村.
    pub chief_v1: String,
    /// 网格长 of 和平村.
    pub chief_v2: String,
    /// 网格长 of 城关镇.
    pub chief_town: String,
}

fn grid(code: &str, name: &str, level: GridLevel, parent: &str) -> Grid {
    Grid {
        code: code.into(),
        name: name.into(),
        level: level as i32,
        parent_code: parent.into(),
        ..Default::default()
    }
}

impl System {
    /// Imports the county's grid tree and its workers.
    pub async fn seed_county(&self) -> County {
        let grids = vec![
            grid(COUNTY, "清河县", GridLevel::County, ""),
            grid(TOWN, "城关镇", GridLevel::Town, COUNTY),
            grid(V1, "幸福村", GridLevel::Village, TOWN),
            grid(V2, "和平村", GridLevel::Village, TOWN),
            grid(G11, "幸福村1组", GridLevel::Group, V1),
            grid(G12, "幸福村2组", GridLevel::Group, V1),
            grid(G21, "和平村1组", GridLevel::Group, V2),
        ];
        let out = self
            .routing
            .clone()
            .upsert_grid(req(UpsertGridRequest { grids }, &admin()))
            .await
            .expect("grid import")
            .into_inner();
        assert_eq!(out.created, 7, "every grid of the county is new");

        use WorkerRole::{GridChief as Chief, GridWorker as Worker};
        County {
            a_g11: self.worker("S001", Worker, &[(G11, Post::A)], "").await,
            b_g11: self.worker("S002", Worker, &[(G11, Post::B)], "").await,
            a_g12: self.worker("S003", Worker, &[(G12, Post::A)], "").await,
            a_g21: self.worker("S004", Worker, &[(G21, Post::A)], "").await,
            a_v1: self.worker("S005", Worker, &[(V1, Post::A)], "").await,
            a_v2: self.worker("S006", Worker, &[(V2, Post::A)], "").await,
            a_town: self.worker("S007", Worker, &[(TOWN, Post::A)], "").await,
            chief_v1: self.worker("S008", Chief, &[], V1).await,
            chief_v2: self.worker("S009", Chief, &[], V2).await,
            chief_town: self.worker("S010", Chief, &[], TOWN).await,
        }
    }

    /// Creates a worker holding `posts` (or leading `chief_of`); returns routing's id.
    pub async fn worker(
        &self,
        staff_no: &str,
        role: WorkerRole,
        posts: &[(&str, Post)],
        chief_of: &str,
    ) -> String {
        // Distinct, valid mobile numbers: 139 0000 0xxx from the staff number's digits.
        let digits: String = staff_no.chars().filter(char::is_ascii_digit).collect();
        let phone = format!("1390000{digits:0>4}");
        let name = format!("网格员{staff_no}");
        self.remember_secret(&phone);
        self.remember_secret(&name);
        let r = UpsertWorkerRequest {
            staff_no: staff_no.into(),
            name,
            role: role as i32,
            phone,
            posts: posts
                .iter()
                .map(|(g, p)| PostAssignment {
                    grid_code: g.to_string(),
                    post: *p as i32,
                })
                .collect(),
            chief_of_grid_code: chief_of.into(),
            capacity: 0,
        };
        let w = self
            .routing
            .clone()
            .upsert_worker(req(r, &admin()))
            .await
            .expect("worker upsert")
            .into_inner();
        w.worker.expect("the stored worker").worker_id
    }
}
