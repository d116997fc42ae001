//! Finding a ticket's grid: the grid code it carries → the boundary containing its GPS point →
//! grid names and aliases in its address (镇, then 村, then 组) → the 兜底 desk of the nearest
//! known ancestor, or the county's. Then lifting to the level the category's rule names.

use sqlx::PgConnection;

use crate::domain::Level;
use crate::geo::{self, LatLng};
use crate::grids::{self, COLUMNS, GridRow};

/// What the ticket says about where it is.
#[derive(Clone, Debug, Default)]
pub struct Place {
    pub grid_code: String,
    pub point: Option<LatLng>,
    pub address: String,
}

/// Where the ticket goes and how that was decided.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub grid: GridRow,
    /// How the grid was found, for the dispatch reason.
    pub how: String,
    /// A fallback desk, not a resolved grid (`ticket.unroutable` goes out too).
    pub fallback: bool,
}

/// Resolves `place`; `handling` is the rule's level: an address match that reaches it is as
/// good as a full match, since the ticket would be lifted there anyway. `None` only when the
/// tree is empty.
pub async fn resolve(
    tx: &mut PgConnection,
    place: &Place,
    handling: Level,
) -> Result<Option<Resolved>, sqlx::Error> {
    let mut nearest: Option<(GridRow, String)> = None;
    if !place.grid_code.is_empty() {
        if let Some(g) = grids::get(tx, &place.grid_code).await? {
            let how = format!("grid code {} carried by the ticket", g.code);
            return Ok(Some(Resolved {
                grid: g,
                how,
                fallback: false,
            }));
        }
        // Administrative codes nest: the longest known prefix is the nearest known ancestor.
        let prefix: Option<GridRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM grids WHERE strpos($1, code) = 1 \
             ORDER BY length(code) DESC LIMIT 1"
        )))
        .bind(&place.grid_code)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(g) = prefix {
            let why = format!(
                "unknown grid code {}; nearest known ancestor {}",
                place.grid_code, g.name
            );
            nearest = Some((g, why));
        }
    }
    if let Some(p) = place.point
        && let Some(g) = by_point(tx, p).await?
    {
        let how = format!("GPS point inside the boundary of {}", g.name);
        return Ok(Some(Resolved {
            grid: g,
            how,
            fallback: false,
        }));
    }
    if !place.address.trim().is_empty()
        && let Some(g) = by_address(tx, &place.address).await?
    {
        if g.level() >= handling || g.level() == Level::Group {
            let how = format!("address names {}", g.name);
            return Ok(Some(Resolved {
                grid: g,
                how,
                fallback: false,
            }));
        }
        if nearest.is_none() {
            let why = format!("address names only {}; its 兜底 desk", g.name);
            nearest = Some((g, why));
        }
    }
    if let Some((g, why)) = nearest {
        return Ok(Some(Resolved {
            grid: g,
            how: why,
            fallback: true,
        }));
    }
    let county: Option<GridRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM grids WHERE level = 1 ORDER BY code LIMIT 1"
    )))
    .fetch_optional(&mut *tx)
    .await?;
    Ok(county.map(|g| Resolved {
        how: format!(
            "no grid code, boundary or address match; county desk {}",
            g.name
        ),
        grid: g,
        fallback: true,
    }))
}

/// The deepest grid whose boundary contains `p`; among equals the smaller, then by code.
async fn by_point(tx: &mut PgConnection, p: LatLng) -> Result<Option<GridRow>, sqlx::Error> {
    let rows: Vec<GridRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM grids WHERE boundary IS NOT NULL \
         AND $1 BETWEEN min_lat AND max_lat AND $2 BETWEEN min_lng AND max_lng"
    )))
    .bind(p.lat)
    .bind(p.lng)
    .fetch_all(&mut *tx)
    .await?;
    let mut inside: Vec<(GridRow, f64)> = rows
        .into_iter()
        .filter_map(|g| {
            let ring = g.ring();
            geo::contains(&ring, p).then(|| (g, geo::bbox_area(&ring)))
        })
        .collect();
    inside.sort_by(|(a, aa), (b, ba)| {
        b.level
            .cmp(&a.level)
            .then(aa.total_cmp(ba))
            .then_with(|| a.code.cmp(&b.code))
    });
    Ok(inside.into_iter().next().map(|(g, _)| g))
}

/// Descends 镇 → 村 → 组: at each level, the grid whose name or alias is the longest match in
/// the address, among the grids below the match so far (or all grids of that level when
/// nothing matched above). A tie between different grids stops the descent: guessing would
/// send the task to the wrong people.
async fn by_address(tx: &mut PgConnection, address: &str) -> Result<Option<GridRow>, sqlx::Error> {
    let mut current: Option<GridRow> = None;
    for level in [Level::Town, Level::Village, Level::Group] {
        let sql = format!(
            "WITH RECURSIVE below(code) AS ( \
               SELECT code FROM grids WHERE code = $3 \
               UNION ALL SELECT g.code FROM below JOIN grids g ON g.parent_code = below.code) \
             SELECT {COLUMNS} FROM grids \
             WHERE level = $2 AND ($3::text IS NULL OR code IN (SELECT code FROM below)) \
               AND (strpos($1, name) > 0 \
                    OR EXISTS (SELECT 1 FROM unnest(aliases) a WHERE strpos($1, a) > 0))"
        );
        let matches: Vec<GridRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(address)
            .bind(level as i16)
            .bind(current.as_ref().map(|g| g.code.clone()))
            .fetch_all(&mut *tx)
            .await?;
        let longest = |g: &GridRow| {
            std::iter::once(&g.name)
                .chain(g.aliases.iter())
                .filter(|n| address.contains(n.as_str()))
                .map(|n| n.chars().count())
                .max()
                .unwrap_or(0)
        };
        let best = matches.iter().map(longest).max().unwrap_or(0);
        let top: Vec<&GridRow> = matches.iter().filter(|g| longest(g) == best).collect();
        match top.as_slice() {
            [one] if best > 0 => current = Some((*one).clone()),
            [] => {}
            _ => break,
        }
    }
    Ok(current)
}

/// The ancestor at `level` when `grid` lies deeper; `grid` itself otherwise.
pub async fn lift(
    tx: &mut PgConnection,
    grid: GridRow,
    level: Level,
) -> Result<GridRow, sqlx::Error> {
    if grid.level() <= level {
        return Ok(grid);
    }
    let ups = grids::ancestors(tx, &grid.code).await?;
    Ok(ups.into_iter().find(|g| g.level() == level).unwrap_or(grid))
}
