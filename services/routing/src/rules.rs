//! Routing rules: which grid level handles a category, and its SLA class.

use chrono::{DateTime, Utc};
use gridloop_proto::v1::RoutingRule;
use sqlx::PgConnection;

use crate::domain::{Level, SlaClass, grid_level, urgency};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RuleRow {
    pub category_code: String,
    pub handling_level: String,
    pub sla_class: String,
    pub updated_at: DateTime<Utc>,
}

/// A category without a rule is handled at village level as a general matter, like `other`.
pub const DEFAULT_LEVEL: Level = Level::Village;

impl RuleRow {
    pub fn level(&self) -> Level {
        grid_level::parse(&self.handling_level).unwrap_or(DEFAULT_LEVEL)
    }

    pub fn sla(&self) -> SlaClass {
        SlaClass::from_urgency(urgency::parse(&self.sla_class)).unwrap_or(SlaClass::General)
    }

    pub fn to_proto(&self) -> RoutingRule {
        RoutingRule {
            category_code: self.category_code.clone(),
            handling_level: grid_level::parse(&self.handling_level).map_or(0, |l| l.proto() as i32),
            sla_class: urgency::parse(&self.sla_class) as i32,
            updated_at: Some(gridloop_proto::ts(self.updated_at)),
        }
    }
}

pub async fn get(tx: &mut PgConnection, category: &str) -> Result<Option<RuleRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT category_code, handling_level, sla_class, updated_at FROM routing_rules \
         WHERE category_code = $1",
    )
    .bind(category)
    .fetch_optional(tx)
    .await
}

pub async fn upsert(
    tx: &mut PgConnection,
    category: &str,
    level: Level,
    sla: SlaClass,
) -> Result<RuleRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO routing_rules (category_code, handling_level, sla_class) VALUES ($1, $2, $3) \
         ON CONFLICT (category_code) DO UPDATE SET handling_level = EXCLUDED.handling_level, \
           sla_class = EXCLUDED.sla_class, updated_at = now() \
         RETURNING category_code, handling_level, sla_class, updated_at",
    )
    .bind(category)
    .bind(grid_level::name(level))
    .bind(urgency::name(sla.proto()))
    .fetch_one(tx)
    .await
}

pub async fn list(
    tx: &mut PgConnection,
    offset: i64,
    limit: i64,
) -> Result<Vec<RuleRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT category_code, handling_level, sla_class, updated_at FROM routing_rules \
         ORDER BY category_code OFFSET $1 LIMIT $2",
    )
    .bind(offset)
    .bind(limit)
    .fetch_all(tx)
    .await
}
