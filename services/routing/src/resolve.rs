//! Finding a ticket's grid: the grid code it carries → the boundary containing its GPS point →
//! grid names and aliases in its address (镇, then 村, then 组) → the 兜底 desk of the nearest
//! known ancestor, or the county's. Then lifting to the level the category's rule names.
//! All in memory, over the replica's [`GridIndex`].

use crate::domain::Level;
use crate::geo::{self, LatLng};
use crate::grids::GridRow;
use crate::index::GridIndex;

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
pub fn resolve(ix: &GridIndex, place: &Place, handling: Level) -> Option<Resolved> {
    let mut nearest: Option<(&GridRow, String)> = None;
    if !place.grid_code.is_empty() {
        if let Some(g) = ix.get(&place.grid_code) {
            return Some(Resolved {
                how: format!("grid code {} carried by the ticket", g.code),
                grid: g.clone(),
                fallback: false,
            });
        }
        // Administrative codes nest: the longest known prefix is the nearest known ancestor.
        let code = place.grid_code.as_str();
        let prefix = code
            .char_indices()
            .rev()
            .map(|(i, _)| i)
            .filter(|&i| i > 0)
            .find_map(|end| ix.get(&code[..end]));
        if let Some(g) = prefix {
            let why = format!(
                "unknown grid code {}; nearest known ancestor {}",
                place.grid_code, g.name
            );
            nearest = Some((g, why));
        }
    }
    if let Some(p) = place.point
        && let Some(g) = by_point(ix, p)
    {
        return Some(Resolved {
            how: format!("GPS point inside the boundary of {}", g.name),
            grid: g.clone(),
            fallback: false,
        });
    }
    if !place.address.trim().is_empty()
        && let Some(g) = by_address(ix, &place.address)
    {
        if g.level() >= handling || g.level() == Level::Group {
            return Some(Resolved {
                how: format!("address names {}", g.name),
                grid: g.clone(),
                fallback: false,
            });
        }
        if nearest.is_none() {
            let why = format!("address names only {}; its 兜底 desk", g.name);
            nearest = Some((g, why));
        }
    }
    if let Some((g, why)) = nearest {
        return Some(Resolved {
            grid: g.clone(),
            how: why,
            fallback: true,
        });
    }
    let g = &ix.node(ix.county?).row;
    Some(Resolved {
        how: format!(
            "no grid code, boundary or address match; county desk {}",
            g.name
        ),
        grid: g.clone(),
        fallback: true,
    })
}

/// The deepest grid whose boundary contains `p`; among equals the smaller, then by code.
pub fn by_point(ix: &GridIndex, p: LatLng) -> Option<&GridRow> {
    ix.buckets
        .near(p)
        .iter()
        .map(|&i| ix.node(i))
        .filter(|n| {
            n.bbox
                .is_some_and(|(a, b, c, d)| (a..=b).contains(&p.lat) && (c..=d).contains(&p.lng))
                && geo::contains(&n.ring, p)
        })
        .min_by(|x, y| {
            y.row
                .level()
                .cmp(&x.row.level())
                .then(x.area.total_cmp(&y.area))
                .then_with(|| x.row.code.cmp(&y.row.code))
        })
        .map(|n| &n.row)
}

/// Descends 镇 → 村 → 组: at each level, the grid whose name or alias is the longest match in
/// the address, among the grids below the match so far (or all grids of that level when
/// nothing matched above). A tie between different grids stops the descent: guessing would
/// send the task to the wrong people.
///
/// One pass finds every name or alias occurring in the address: at each character, a lookup
/// per distinct name length.
pub fn by_address<'a>(ix: &'a GridIndex, address: &str) -> Option<&'a GridRow> {
    // (grid, longest of its names found, in characters)
    let mut found: Vec<(u32, u32)> = Vec::new();
    for (start, _) in address.char_indices() {
        for &len in &ix.name_lens {
            let end = start + len;
            if end > address.len() {
                break;
            }
            if !address.is_char_boundary(end) {
                continue;
            }
            if let Some(hits) = ix.names.get(&address[start..end]) {
                for &(g, chars) in hits {
                    match found.iter_mut().find(|(f, _)| *f == g) {
                        Some(f) => f.1 = f.1.max(chars),
                        None => found.push((g, chars)),
                    }
                }
            }
        }
    }
    let mut current: Option<u32> = None;
    for level in [Level::Town, Level::Village, Level::Group] {
        let below = |g: u32| match current {
            None => true,
            Some(c) => ix.ancestor_ids(g).any(|a| a == c),
        };
        let at_level = || {
            found
                .iter()
                .filter(|(g, _)| ix.node(*g).row.level() == level && below(*g))
        };
        let best = at_level().map(|(_, n)| *n).max().unwrap_or(0);
        let mut top = at_level().filter(|(_, n)| *n == best);
        match (top.next(), top.next()) {
            (Some(&(one, _)), None) if best > 0 => current = Some(one),
            (None, _) => {}
            _ => break,
        }
    }
    current.map(|i| &ix.node(i).row)
}

/// The ancestor at `level` when `grid` lies deeper; `grid` itself otherwise.
pub fn lift(ix: &GridIndex, grid: GridRow, level: Level) -> GridRow {
    if grid.level() <= level {
        return grid;
    }
    let Some(&i) = ix.by_code.get(&grid.code) else {
        return grid;
    };
    ix.ancestor_ids(i)
        .map(|a| &ix.node(a).row)
        .find(|g| g.level() == level)
        .cloned()
        .unwrap_or(grid)
}
