//! The grid tree and the routing rules in memory, so a dispatch resolves and lifts its grid
//! without a round trip: codes, parents, names and aliases (for the address scan), boundaries
//! with their bounding boxes in a bucket grid (for the GPS point), and the rules.
//!
//! Every replica holds its own copy, loaded at start. Writes to `grids` or `routing_rules`
//! bump `grid_version` in the same transaction (statement triggers); a dispatch reads that
//! counter in its availability query, and reloads the index when it differs from the copy's.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, RwLock};

use sqlx::PgConnection;

use crate::domain::Level;
use crate::geo::{self, LatLng};
use crate::grids::{COLUMNS, GridRow};
use crate::rules::RuleRow;

/// FNV-1a: the keys are short place names and codes; SipHash's cost shows in the address
/// scan, which looks up every substring of plausible length.
#[derive(Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

pub type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// One grid of the index.
pub struct Node {
    pub row: GridRow,
    pub parent: Option<u32>,
    pub ring: Vec<LatLng>,
    /// (min_lat, max_lat, min_lng, max_lng) as stored; `None` without a boundary.
    pub bbox: Option<(f64, f64, f64, f64)>,
    /// Bounding-box area of the ring, to prefer the smaller of two containing grids.
    pub area: f64,
}

/// Bounding boxes bucketed on a lattice over their extent: a point is tested only against
/// the boxes of its cell.
#[derive(Default)]
pub struct Buckets {
    lat0: f64,
    lng0: f64,
    lat1: f64,
    lng1: f64,
    side: usize,
    cells: Vec<Vec<u32>>,
}

impl Buckets {
    fn build(nodes: &[Node]) -> Buckets {
        let boxed: Vec<(u32, (f64, f64, f64, f64))> = nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.bbox.map(|b| (i as u32, b)))
            .filter(|(_, b)| [b.0, b.1, b.2, b.3].iter().all(|x| x.is_finite()))
            .collect();
        if boxed.is_empty() {
            return Buckets::default();
        }
        let (lat0, lat1, lng0, lng1) = boxed.iter().fold(
            (f64::MAX, f64::MIN, f64::MAX, f64::MIN),
            |(a, b, c, d), (_, x)| (a.min(x.0), b.max(x.1), c.min(x.2), d.max(x.3)),
        );
        let side = ((boxed.len() as f64).sqrt().ceil() as usize).clamp(1, 512);
        let mut out = Buckets {
            lat0,
            lng0,
            lat1,
            lng1,
            side,
            cells: vec![Vec::new(); side * side],
        };
        for (i, b) in boxed {
            let (r0, r1) = (out.row(b.0), out.row(b.1));
            let (c0, c1) = (out.col(b.2), out.col(b.3));
            for r in r0..=r1 {
                for c in c0..=c1 {
                    out.cells[r * side + c].push(i);
                }
            }
        }
        out
    }

    fn slot(v: f64, lo: f64, hi: f64, side: usize) -> usize {
        if hi <= lo {
            return 0;
        }
        (((v - lo) / (hi - lo) * side as f64) as usize).min(side - 1)
    }

    fn row(&self, lat: f64) -> usize {
        Self::slot(lat, self.lat0, self.lat1, self.side)
    }

    fn col(&self, lng: f64) -> usize {
        Self::slot(lng, self.lng0, self.lng1, self.side)
    }

    /// Grids whose box may contain `p` (a superset; the caller tests the box and the ring).
    pub fn near(&self, p: LatLng) -> &[u32] {
        let inside = self.side > 0
            && (self.lat0..=self.lat1).contains(&p.lat)
            && (self.lng0..=self.lng1).contains(&p.lng);
        if !inside {
            return &[];
        }
        &self.cells[self.row(p.lat) * self.side + self.col(p.lng)]
    }
}

/// A loaded copy of the tree and the rules.
#[derive(Default)]
pub struct GridIndex {
    /// The `grid_version` this copy was read at (or after).
    pub version: i64,
    pub nodes: Vec<Node>,
    pub by_code: FnvMap<String, u32>,
    /// Name or alias → (grid, length in characters), for the address scan.
    pub names: FnvMap<String, Vec<(u32, u32)>>,
    /// The distinct byte lengths of the keys of `names`, ascending.
    pub name_lens: Vec<usize>,
    pub buckets: Buckets,
    /// The county desk of last resort: the first county by code.
    pub county: Option<u32>,
    pub rules: FnvMap<String, RuleRow>,
}

#[derive(sqlx::FromRow)]
struct Loaded {
    #[sqlx(flatten)]
    row: GridRow,
    min_lat: Option<f64>,
    max_lat: Option<f64>,
    min_lng: Option<f64>,
    max_lng: Option<f64>,
}

impl GridIndex {
    /// Reads the version first, then the tables: a write committed in between makes the copy
    /// newer than its version, which only costs one needless reload later.
    pub async fn load(conn: &mut PgConnection) -> Result<GridIndex, sqlx::Error> {
        let version = current_version(conn).await?;
        let rows: Vec<Loaded> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS}, min_lat, max_lat, min_lng, max_lng FROM grids"
        )))
        .fetch_all(&mut *conn)
        .await?;
        let rules: Vec<RuleRow> = sqlx::query_as(
            "SELECT category_code, handling_level, sla_class, updated_at FROM routing_rules",
        )
        .fetch_all(&mut *conn)
        .await?;
        Ok(GridIndex::build(version, rows, rules))
    }

    fn build(version: i64, rows: Vec<Loaded>, rules: Vec<RuleRow>) -> GridIndex {
        let mut ix = GridIndex {
            version,
            ..Default::default()
        };
        for (i, l) in rows.iter().enumerate() {
            ix.by_code.insert(l.row.code.clone(), i as u32);
        }
        for (i, l) in rows.into_iter().enumerate() {
            let ring = l.row.ring();
            let bbox = match (l.row.boundary.is_some(), l.min_lat, l.max_lat) {
                (true, Some(a), Some(b)) => l.min_lng.zip(l.max_lng).map(|(c, d)| (a, b, c, d)),
                _ => None,
            };
            let area = if ring.is_empty() {
                0.0
            } else {
                geo::bbox_area(&ring)
            };
            for n in std::iter::once(&l.row.name).chain(l.row.aliases.iter()) {
                if n.is_empty() {
                    continue;
                }
                let chars = n.chars().count() as u32;
                let at = ix.names.entry(n.clone()).or_default();
                if !at.iter().any(|(g, _)| *g == i as u32) {
                    at.push((i as u32, chars));
                }
            }
            let parent = l
                .row
                .parent_code
                .as_ref()
                .and_then(|p| ix.by_code.get(p).copied());
            ix.nodes.push(Node {
                row: l.row,
                parent,
                ring,
                bbox,
                area,
            });
        }
        let mut lens: Vec<usize> = ix.names.keys().map(String::len).collect();
        lens.sort_unstable();
        lens.dedup();
        ix.name_lens = lens;
        ix.buckets = Buckets::build(&ix.nodes);
        ix.county = ix
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.row.level() == Level::County)
            .min_by(|a, b| a.1.row.code.cmp(&b.1.row.code))
            .map(|(i, _)| i as u32);
        ix.rules = rules
            .into_iter()
            .map(|r| (r.category_code.clone(), r))
            .collect();
        ix
    }

    pub fn node(&self, i: u32) -> &Node {
        &self.nodes[i as usize]
    }

    pub fn get(&self, code: &str) -> Option<&GridRow> {
        self.by_code.get(code).map(|&i| &self.node(i).row)
    }

    /// Ancestors of grid `i`, nearest first (parent, grandparent, …, county).
    pub fn ancestor_ids(&self, i: u32) -> impl Iterator<Item = u32> + '_ {
        // The level check keeps parents one level up, so four steps reach the county; the
        // bound only guards against a corrupted tree.
        std::iter::successors(self.node(i).parent, |&p| self.node(p).parent).take(8)
    }

    /// Ancestors of `code`, nearest first; empty for an unknown code.
    pub fn ancestors(&self, code: &str) -> Vec<GridRow> {
        match self.by_code.get(code) {
            Some(&i) => self
                .ancestor_ids(i)
                .map(|a| self.node(a).row.clone())
                .collect(),
            None => Vec::new(),
        }
    }

    pub fn rule(&self, category: &str) -> Option<&RuleRow> {
        self.rules.get(category)
    }
}

/// The current `grid_version`.
pub async fn current_version(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT version FROM grid_version")
        .fetch_one(conn)
        .await
}

/// A replica's copy, swapped whole when reloaded; readers keep the snapshot they took.
pub struct Index {
    current: RwLock<Arc<GridIndex>>,
    reloading: tokio::sync::Mutex<()>,
}

impl Index {
    pub async fn load(conn: &mut PgConnection) -> Result<Index, sqlx::Error> {
        Ok(Index::new(GridIndex::load(conn).await?))
    }

    pub fn new(ix: GridIndex) -> Index {
        Index {
            current: RwLock::new(Arc::new(ix)),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    pub fn snapshot(&self) -> Arc<GridIndex> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reloads unless a copy at `seen` or later is already there (another dispatch may have
    /// reloaded meanwhile); returns the copy to use.
    pub async fn refresh(
        &self,
        conn: &mut PgConnection,
        seen: i64,
    ) -> Result<Arc<GridIndex>, sqlx::Error> {
        let _one_at_a_time = self.reloading.lock().await;
        let cur = self.snapshot();
        if cur.version >= seen {
            return Ok(cur);
        }
        let t = std::time::Instant::now();
        let fresh = Arc::new(GridIndex::load(conn).await?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh.clone();
        tracing::info!(
            version = fresh.version,
            grids = fresh.nodes.len(),
            ms = t.elapsed().as_millis() as u64,
            "grid index reloaded"
        );
        Ok(fresh)
    }
}
