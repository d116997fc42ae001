//! The category catalogue: data in intake's schema (seeded by the first migration), with a
//! default urgency and SLA class per category, managed over gRPC by admins.
//!
//! Every submission needs its category, so the catalogue (a few rows) is kept in memory
//! ([`Catalogue`]) instead of being read once per submission.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use gridloop_platform::ApiError;
use gridloop_proto::v1::{Category, CategoryDefinition, Urgency};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::domain;
use crate::stored::URGENCY;

#[derive(Clone, Debug)]
pub struct CategoryRow {
    pub code: String,
    pub name: String,
    pub default_urgency: Urgency,
    pub sla_class: Urgency,
    pub active: bool,
    pub display_order: i32,
}

fn urgency(name: &str) -> Urgency {
    Urgency::try_from(URGENCY.parse(name)).unwrap_or(Urgency::General)
}

fn from_row(r: &PgRow) -> CategoryRow {
    CategoryRow {
        code: r.get("code"),
        name: r.get("name"),
        default_urgency: urgency(r.get("default_urgency")),
        sla_class: urgency(r.get("sla_class")),
        active: r.get("active"),
        display_order: r.get("display_order"),
    }
}

impl CategoryRow {
    pub fn to_proto(&self) -> CategoryDefinition {
        CategoryDefinition {
            category: Some(Category {
                code: self.code.clone(),
                name: self.name.clone(),
            }),
            default_urgency: self.default_urgency as i32,
            sla_class: self.sla_class as i32,
            active: self.active,
            display_order: self.display_order,
        }
    }
}

// A macro, not a const: sqlx takes only literal SQL (`concat!` of literals stays literal).
macro_rules! columns {
    () => {
        "code, name, default_urgency, sla_class, active, display_order"
    };
}

/// How long a cached catalogue is trusted before it is read again.
const MAX_AGE: Duration = Duration::from_secs(30);

/// The catalogue as this process last read it.
///
/// Only "active" is answered from memory; an unknown or inactive code (or a cache older than
/// [`MAX_AGE`]) reloads the catalogue first, so a category added or re-activated through
/// another replica is found at once. A submission re-checks "active" inside its own
/// transaction ([`crate::submit`]), so a category retired through another replica is refused
/// at once too. Only a rename or a new default urgency made elsewhere can lag, by
/// [`MAX_AGE`] at most; changes made through this process are applied here immediately.
pub struct Catalogue {
    pool: PgPool,
    cached: RwLock<Option<(Instant, HashMap<String, CategoryRow>)>>,
}

impl Catalogue {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            cached: RwLock::new(None),
        }
    }

    /// The active category `code`, or `INVALID_ARGUMENT` naming `field`.
    pub async fn active(&self, field: &str, code: &str) -> Result<CategoryRow, ApiError> {
        let code = code.trim();
        if code.is_empty() {
            return Err(ApiError::invalid(field, "required"));
        }
        if let Some(c) = self.cached(code).filter(|c| c.active) {
            return Ok(c);
        }
        let rows = list(&self.pool, true).await?;
        let found = rows.iter().find(|c| c.code == code).cloned();
        self.store(rows);
        match found {
            Some(c) if c.active => Ok(c),
            Some(_) => Err(ApiError::invalid(field, "category is no longer in use")),
            None => Err(ApiError::invalid(field, "not in the category catalogue")),
        }
    }

    /// Stores a definition from an admin (see [`upsert`]) and applies it to the cache.
    pub async fn upsert(&self, def: Option<&CategoryDefinition>) -> Result<CategoryRow, ApiError> {
        let row = upsert(&self.pool, def).await?;
        if let Ok(mut guard) = self.cached.write()
            && let Some((_, rows)) = guard.as_mut()
        {
            rows.insert(row.code.clone(), row.clone());
        }
        Ok(row)
    }

    fn cached(&self, code: &str) -> Option<CategoryRow> {
        let guard = self.cached.read().ok()?;
        let (at, rows) = guard.as_ref()?;
        if at.elapsed() > MAX_AGE {
            return None;
        }
        rows.get(code).cloned()
    }

    fn store(&self, rows: Vec<CategoryRow>) {
        if let Ok(mut guard) = self.cached.write() {
            *guard = Some((
                Instant::now(),
                rows.into_iter().map(|c| (c.code.clone(), c)).collect(),
            ));
        }
    }
}

pub async fn list(pool: &PgPool, include_inactive: bool) -> Result<Vec<CategoryRow>, ApiError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM categories WHERE active OR $1 ORDER BY display_order, code"
    ))
    .bind(include_inactive)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(from_row).collect())
}

/// Validates a definition from an admin and stores it by code.
pub async fn upsert(
    pool: &PgPool,
    def: Option<&CategoryDefinition>,
) -> Result<CategoryRow, ApiError> {
    let def = def.ok_or_else(|| ApiError::invalid("category", "required"))?;
    let cat = def
        .category
        .as_ref()
        .ok_or_else(|| ApiError::invalid("category.category", "required"))?;
    let code = cat.code.trim();
    if code.is_empty()
        || code.len() > 64
        || !code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(ApiError::invalid(
            "category.category.code",
            "lowercase letters, digits and _, at most 64",
        ));
    }
    let name = domain::text("category.category.name", &cat.name, 64)?;
    if name.is_empty() {
        return Err(ApiError::invalid("category.category.name", "required"));
    }
    let default_urgency = domain::urgency("category.default_urgency", def.default_urgency)?
        .unwrap_or(Urgency::General);
    let sla_class =
        domain::urgency("category.sla_class", def.sla_class)?.unwrap_or(Urgency::General);
    let row = sqlx::query(concat!(
        "INSERT INTO categories (",
        columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, \
            default_urgency = EXCLUDED.default_urgency, sla_class = EXCLUDED.sla_class, \
            active = EXCLUDED.active, display_order = EXCLUDED.display_order, updated_at = now() \
         RETURNING ",
        columns!()
    ))
    .bind(code)
    .bind(&name)
    .bind(URGENCY.name(default_urgency as i32))
    .bind(URGENCY.name(sla_class as i32))
    .bind(def.active)
    .bind(def.display_order)
    .fetch_one(pool)
    .await?;
    Ok(from_row(&row))
}
