//! SLA rules by category × urgency: stored data, seeded by the migration, managed over gRPC.

use chrono::{DateTime, Utc};
use gridloop_lifecycle::SlaSpan;
use gridloop_proto::ts;
use gridloop_proto::v1 as pb;
use sqlx::{PgConnection, PgPool};

use crate::domain::{span, time_unit, urgency};
use crate::error::Error;

/// One rule; limits as (amount, TimeUnit).
#[derive(Debug, Clone)]
pub struct Rule {
    pub category_code: String,
    pub urgency: i32,
    pub respond_amount: i32,
    pub respond_unit: i32,
    pub dispose_amount: i32,
    pub dispose_unit: i32,
    pub feedback_amount: i32,
    pub feedback_unit: i32,
    pub updated_at: DateTime<Utc>,
}

/// A rule as stored: urgency and units by name.
#[derive(sqlx::FromRow)]
struct RuleRow {
    category_code: String,
    urgency: String,
    respond_amount: i32,
    respond_unit: String,
    dispose_amount: i32,
    dispose_unit: String,
    feedback_amount: i32,
    feedback_unit: String,
    updated_at: DateTime<Utc>,
}

impl From<RuleRow> for Rule {
    fn from(r: RuleRow) -> Rule {
        Rule {
            category_code: r.category_code,
            urgency: urgency::parse(&r.urgency),
            respond_amount: r.respond_amount,
            respond_unit: time_unit::parse(&r.respond_unit),
            dispose_amount: r.dispose_amount,
            dispose_unit: time_unit::parse(&r.dispose_unit),
            feedback_amount: r.feedback_amount,
            feedback_unit: time_unit::parse(&r.feedback_unit),
            updated_at: r.updated_at,
        }
    }
}

const COLUMNS: &str = "category_code, urgency, respond_amount, respond_unit, dispose_amount, \
     dispose_unit, feedback_amount, feedback_unit, updated_at";

impl Rule {
    pub fn span(&self, kind: pb::DeadlineKind) -> SlaSpan {
        match kind {
            pb::DeadlineKind::Respond => span(self.respond_amount, self.respond_unit),
            pb::DeadlineKind::Feedback => span(self.feedback_amount, self.feedback_unit),
            _ => span(self.dispose_amount, self.dispose_unit),
        }
    }

    pub fn to_pb(&self) -> pb::SlaRule {
        let limit = |amount: i32, unit: i32| pb::TimeLimit {
            amount: u32::try_from(amount).unwrap_or(0),
            unit,
        };
        pb::SlaRule {
            category_code: self.category_code.clone(),
            urgency: self.urgency,
            respond_within: Some(limit(self.respond_amount, self.respond_unit)),
            dispose_within: Some(limit(self.dispose_amount, self.dispose_unit)),
            feedback_within: Some(limit(self.feedback_amount, self.feedback_unit)),
            updated_at: Some(ts(self.updated_at)),
        }
    }
}

/// The rule for a ticket: its category's, else the urgency's default, else the general
/// default. An unknown urgency counts as general.
pub async fn for_ticket(
    conn: &mut PgConnection,
    category: &str,
    urgency: i32,
) -> Result<Option<Rule>, Error> {
    let known = if (1..=3).contains(&urgency) {
        urgency
    } else {
        1
    };
    let row: Option<RuleRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM sla_rules \
         WHERE (category_code = $1 AND urgency = $2) OR (category_code = '' AND urgency IN ($2, $3)) \
         ORDER BY (category_code = $1 AND urgency = $2) DESC, (urgency = $2) DESC LIMIT 1"
    )))
    .bind(category)
    .bind(urgency::name(known))
    .bind(urgency::name(1))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(Rule::from))
}

/// Creates or replaces the rule of (category, urgency).
pub async fn upsert(pool: &PgPool, r: &Rule) -> Result<Rule, Error> {
    let row: RuleRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO sla_rules ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now()) \
         ON CONFLICT (category_code, urgency) DO UPDATE SET respond_amount = $3, \
           respond_unit = $4, dispose_amount = $5, dispose_unit = $6, feedback_amount = $7, \
           feedback_unit = $8, updated_at = now() \
         RETURNING {COLUMNS}"
    )))
    .bind(&r.category_code)
    .bind(urgency::name(r.urgency))
    .bind(r.respond_amount)
    .bind(time_unit::name(r.respond_unit))
    .bind(r.dispose_amount)
    .bind(time_unit::name(r.dispose_unit))
    .bind(r.feedback_amount)
    .bind(time_unit::name(r.feedback_unit))
    .fetch_one(pool)
    .await?;
    Ok(row.into())
}

/// Rules by (category_code, urgency) after `after`; with a category, only it and the
/// defaults. Fetches `limit` rows.
pub async fn page(
    pool: &PgPool,
    category: Option<&str>,
    after: Option<(String, i32)>,
    limit: i64,
) -> Result<Vec<Rule>, Error> {
    let (after_code, after_urgency) = match after {
        Some((c, u)) => (Some(c), Some(u)),
        None => (None, None),
    };
    // Ordered by the urgency's place in the wire order, as when the number was stored.
    let rows: Vec<RuleRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM sla_rules \
         WHERE ($1::text IS NULL OR category_code IN ($1, '')) \
           AND ($2::text IS NULL \
                OR (category_code, array_position($5, urgency)) > ($2, $3::integer)) \
         ORDER BY category_code, array_position($5, urgency) LIMIT $4"
    )))
    .bind(category)
    .bind(after_code)
    .bind(after_urgency)
    .bind(limit)
    .bind(urgency::RULE_ORDER)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Rule::from).collect())
}
