//! The grid tree in SQL: upsert of a batch, one grid with its ancestors, subtrees.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use gridloop_platform::ApiError;
use gridloop_proto::v1::{GeoPoint, Grid, Polygon};
use sqlx::PgConnection;

use crate::domain::{Level, check_code, grid_level};
use crate::geo::{self, LatLng};

/// A stored grid.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct GridRow {
    pub code: String,
    pub name: String,
    /// The stored name; [`GridRow::level`] reads it.
    pub level: String,
    pub parent_code: Option<String>,
    pub aliases: Vec<String>,
    /// The boundary ring as JSON text.
    pub boundary: Option<String>,
    pub updated_at: DateTime<Utc>,
}

pub const COLUMNS: &str =
    "code, name, level, parent_code, aliases, boundary::text AS boundary, updated_at";
/// [`COLUMNS`] of a table aliased `g`.
pub const G_COLUMNS: &str = "g.code, g.name, g.level, g.parent_code, g.aliases, \
     g.boundary::text AS boundary, g.updated_at";

impl GridRow {
    pub fn level(&self) -> Level {
        grid_level::parse(&self.level).unwrap_or(Level::Group)
    }

    pub fn ring(&self) -> Vec<LatLng> {
        self.boundary
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or_default()
    }

    pub fn to_proto(&self) -> Grid {
        let ring = self.ring();
        Grid {
            code: self.code.clone(),
            name: self.name.clone(),
            level: self.level().proto() as i32,
            parent_code: self.parent_code.clone().unwrap_or_default(),
            aliases: self.aliases.clone(),
            boundary: (!ring.is_empty()).then(|| Polygon {
                points: ring
                    .iter()
                    .map(|p| GeoPoint {
                        lat: p.lat,
                        lng: p.lng,
                    })
                    .collect(),
            }),
            updated_at: Some(gridloop_proto::ts(self.updated_at)),
        }
    }
}

/// A grid of an upsert, validated.
struct NewGrid {
    code: String,
    name: String,
    level: Level,
    parent: Option<String>,
    aliases: Vec<String>,
    ring: Option<Vec<LatLng>>,
}

fn validate(i: usize, g: &Grid) -> Result<NewGrid, ApiError> {
    let f = |name: &str| format!("grids[{i}].{name}");
    check_code(&f("code"), &g.code)?;
    let name = g.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::invalid(
            f("name"),
            "required, at most 64 characters",
        ));
    }
    let level =
        Level::from_i32(g.level).ok_or_else(|| ApiError::invalid(f("level"), "required"))?;
    let parent = match (level, g.parent_code.as_str()) {
        (Level::County, "") => None,
        (Level::County, _) => {
            return Err(ApiError::invalid(
                f("parent_code"),
                "a COUNTY has no parent",
            ));
        }
        (_, "") => return Err(ApiError::invalid(f("parent_code"), "required below COUNTY")),
        (_, p) => {
            check_code(&f("parent_code"), p)?;
            Some(p.to_owned())
        }
    };
    let mut aliases = Vec::new();
    for a in &g.aliases {
        let a = a.trim();
        // A one-character alias would match almost any address.
        if a.chars().count() < 2 || a.chars().count() > 64 {
            return Err(ApiError::invalid(
                f("aliases"),
                "each alias 2-64 characters",
            ));
        }
        aliases.push(a.to_owned());
    }
    let ring = match &g.boundary {
        None => None,
        Some(poly) => {
            if poly.points.len() < 3 || poly.points.len() > 10_000 {
                return Err(ApiError::invalid(f("boundary"), "3 to 10000 points"));
            }
            let ok = poly.points.iter().all(|p| {
                p.lat.is_finite()
                    && p.lng.is_finite()
                    && (-90.0..=90.0).contains(&p.lat)
                    && (-180.0..=180.0).contains(&p.lng)
            });
            if !ok {
                return Err(ApiError::invalid(f("boundary"), "points out of range"));
            }
            Some(
                poly.points
                    .iter()
                    .map(|p| LatLng {
                        lat: p.lat,
                        lng: p.lng,
                    })
                    .collect(),
            )
        }
    };
    Ok(NewGrid {
        code: g.code.clone(),
        name: name.to_owned(),
        level,
        parent,
        aliases,
        ring,
    })
}

/// Validates and writes a batch in the caller's transaction; returns the stored grids in
/// request order and how many were created. Nothing is written when a grid is invalid.
pub async fn upsert_batch(
    tx: &mut PgConnection,
    grids: &[Grid],
) -> Result<(Vec<GridRow>, u32), ApiError> {
    if grids.is_empty() || grids.len() > 5000 {
        return Err(ApiError::invalid("grids", "1 to 5000 grids per call"));
    }
    let batch: Vec<NewGrid> = grids
        .iter()
        .enumerate()
        .map(|(i, g)| validate(i, g))
        .collect::<Result<_, _>>()?;
    let mut levels: HashMap<String, Level> = HashMap::new();
    for (i, g) in batch.iter().enumerate() {
        if levels.insert(g.code.clone(), g.level).is_some() {
            return Err(ApiError::invalid(
                format!("grids[{i}].code"),
                "appears twice in the batch",
            ));
        }
    }
    // Parents outside the batch must exist already; every parent sits one level up.
    let outside: Vec<String> = batch
        .iter()
        .filter_map(|g| g.parent.clone())
        .filter(|p| !levels.contains_key(p))
        .collect();
    let stored: Vec<(String, String)> =
        sqlx::query_as("SELECT code, level FROM grids WHERE code = ANY($1)")
            .bind(&outside)
            .fetch_all(&mut *tx)
            .await?;
    let mut known = levels.clone();
    for (code, level) in stored {
        known.insert(code, grid_level::parse(&level).unwrap_or(Level::Group));
    }
    for (i, g) in batch.iter().enumerate() {
        if let Some(p) = &g.parent {
            match known.get(p) {
                None => {
                    return Err(ApiError::invalid(
                        format!("grids[{i}].parent_code"),
                        "no such grid",
                    ));
                }
                Some(pl) if *pl as i32 + 1 != g.level as i32 => {
                    return Err(ApiError::invalid(
                        format!("grids[{i}].parent_code"),
                        format!(
                            "parent is {}, one level above {} expected",
                            pl.name(),
                            g.level.name()
                        ),
                    ));
                }
                _ => {}
            }
        }
    }

    let mut out = Vec::with_capacity(batch.len());
    let mut created = 0u32;
    for g in &batch {
        let (boundary, bbox) = match &g.ring {
            Some(r) => (
                Some(serde_json::to_string(r).map_err(ApiError::internal)?),
                Some(geo::bbox(r)),
            ),
            None => (None, None),
        };
        let (row, new): (GridRow, bool) = {
            let sql = format!(
                "INSERT INTO grids (code, name, level, parent_code, aliases, boundary, \
                   min_lat, max_lat, min_lng, max_lng, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, now()) \
                 ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level, \
                   parent_code = EXCLUDED.parent_code, aliases = EXCLUDED.aliases, \
                   boundary = EXCLUDED.boundary, min_lat = EXCLUDED.min_lat, \
                   max_lat = EXCLUDED.max_lat, min_lng = EXCLUDED.min_lng, \
                   max_lng = EXCLUDED.max_lng, updated_at = now() \
                 RETURNING {COLUMNS}, (xmax = 0) AS created"
            );
            let r = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&g.code)
                .bind(&g.name)
                .bind(grid_level::name(g.level))
                .bind(&g.parent)
                .bind(&g.aliases)
                .bind(boundary)
                .bind(bbox.map(|b| b.0))
                .bind(bbox.map(|b| b.1))
                .bind(bbox.map(|b| b.2))
                .bind(bbox.map(|b| b.3))
                .fetch_one(&mut *tx)
                .await?;
            use sqlx::{FromRow, Row};
            (GridRow::from_row(&r)?, r.try_get("created")?)
        };
        created += u32::from(new);
        out.push(row);
    }
    // A level change of an existing grid must not leave its children misplaced.
    let misplaced: Option<String> = sqlx::query_scalar(
        "SELECT c.code FROM grids c JOIN grids p ON c.parent_code = p.code \
         WHERE array_position($2, c.level) <> array_position($2, p.level) + 1 \
           AND (c.code = ANY($1) OR p.code = ANY($1)) LIMIT 1",
    )
    .bind(batch.iter().map(|g| g.code.clone()).collect::<Vec<_>>())
    .bind(grid_level::NAMES)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(code) = misplaced {
        return Err(ApiError::invalid(
            "grids",
            format!("grid {code} would no longer sit one level below its parent"),
        ));
    }
    Ok((out, created))
}

pub async fn get(tx: &mut PgConnection, code: &str) -> Result<Option<GridRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM grids WHERE code = $1"
    )))
    .bind(code)
    .fetch_optional(tx)
    .await
}

/// Ancestors of `code`, nearest first (parent, grandparent, …, county).
pub async fn ancestors(tx: &mut PgConnection, code: &str) -> Result<Vec<GridRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH RECURSIVE up(code, depth) AS ( \
           SELECT parent_code, 1 FROM grids WHERE code = $1 AND parent_code IS NOT NULL \
           UNION ALL \
           SELECT g.parent_code, up.depth + 1 FROM up JOIN grids g ON g.code = up.code \
           WHERE g.parent_code IS NOT NULL) \
         SELECT {G_COLUMNS} FROM up JOIN grids g ON g.code = up.code ORDER BY up.depth"
    )))
    .bind(code)
    .fetch_all(tx)
    .await
}

/// Whether `code` is `root` or lies below it.
pub async fn within(
    tx: &mut PgConnection,
    code: &str,
    roots: &[String],
) -> Result<bool, sqlx::Error> {
    if roots.iter().any(|r| r == code) {
        return Ok(true);
    }
    Ok(ancestors(tx, code)
        .await?
        .iter()
        .any(|a| roots.contains(&a.code)))
}

/// A subtree, root first then depth-first by code; `root` None for the whole forest.
pub async fn subtree(
    tx: &mut PgConnection,
    root: Option<&str>,
    max_depth: u32,
    level: Option<Level>,
    offset: i64,
    limit: i64,
) -> Result<Vec<GridRow>, sqlx::Error> {
    let sql = format!(
        "WITH RECURSIVE t(code, path, depth) AS ( \
           SELECT code, ARRAY[code], 0 FROM grids \
           WHERE ($1::text IS NULL AND parent_code IS NULL) OR code = $1 \
           UNION ALL \
           SELECT g.code, t.path || g.code, t.depth + 1 FROM t JOIN grids g ON g.parent_code = t.code \
           WHERE $2 = 0 OR t.depth < $2) \
         SELECT {G_COLUMNS} FROM t JOIN grids g ON g.code = t.code \
         WHERE $3::text IS NULL OR g.level = $3 \
         ORDER BY t.path OFFSET $4 LIMIT $5"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(root)
        .bind(max_depth as i32)
        .bind(level.map(grid_level::name))
        .bind(offset)
        .bind(limit)
        .fetch_all(tx)
        .await
}
