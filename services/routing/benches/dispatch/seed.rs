//! A synthetic county written straight into routing's tables (bulk `unnest` inserts, not the
//! RPCs: seeding 10⁵ workers one call at a time would dwarf the benchmark): one county, 20
//! towns, 500 villages, 9,500 groups (10,021 grids) with names, aliases and boundaries on the
//! villages and on every other village's groups; 100,000 workers.
//!
//! Groups hold 3 A posts and 3 B posts (none in 5% of groups), villages and towns 2 and 2;
//! every grid has a chief. Post holders: 15% on leave, 5% off duty, 10% at capacity (2 of 2
//! open tasks), 20% of the rest with one open task, so ties and the fallback chain both show.
//! Group chiefs are off duty in 2% of groups; chiefs above are always there. The rest of the
//! 10⁵ are assistants without posts.

use sqlx::PgConnection;
use uuid::Uuid;

use gridloop_proto::v1::WorkerRole;
use gridloop_routing::domain::{grid_level, role};

/// Characters the synthetic place names are made of.
const SYL: &[char] = &[
    '安', '宝', '北', '昌', '东', '丰', '福', '广', '和', '河', '华', '黄', '吉', '金', '康', '乐',
    '林', '龙', '茂', '南', '平', '青', '庆', '仁', '瑞', '山', '上', '石', '顺', '泰', '桃', '天',
    '田', '望', '文', '西', '溪', '新', '兴', '阳', '永', '玉', '元', '长', '正', '中', '竹', '光',
    '明', '春',
];
const NUM: &[&str] = &[
    "一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二", "十三", "十四",
    "十五", "十六", "十七", "十八", "十九",
];

pub const TOWNS: usize = 20;
pub const VILLAGES_PER_TOWN: usize = 25;
pub const GROUPS_PER_VILLAGE: usize = 19;
pub const WORKERS: usize = 100_000;
/// Village squares are laid out on a lattice from this corner.
pub const ORIGIN: (f64, f64) = (33.0, 116.0);
pub const VILLAGE_SIDE: f64 = 0.02;
pub const GROUP_SIDE: f64 = 0.004;

/// Deterministic pseudo-random numbers (xorshift), so every run seeds the same county.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A two-character stem, distinct for distinct `i` below 2,500 (37 is prime to 2,500).
fn stem(i: usize, salt: usize) -> String {
    let k = (i * 37 + salt) % (SYL.len() * SYL.len());
    [SYL[k / SYL.len()], SYL[k % SYL.len()]].iter().collect()
}

pub struct Grid {
    pub code: String,
    pub name: String,
    pub level: i16,
    pub parent: String,
    pub alias: String,
    /// (lat, lng) of the south-west corner and the side of a square boundary.
    pub square: Option<(f64, f64, f64)>,
}

pub struct County {
    pub grids: Vec<Grid>,
    pub towns: Vec<usize>,
    pub villages: Vec<usize>,
    pub groups: Vec<usize>,
    pub workers: usize,
}

impl County {
    pub fn build() -> County {
        let mut grids = vec![Grid {
            code: "341504".into(),
            name: "清河县".into(),
            level: 1,
            parent: String::new(),
            alias: String::new(),
            square: None,
        }];
        let (mut towns, mut villages, mut groups) = (Vec::new(), Vec::new(), Vec::new());
        for t in 0..TOWNS {
            let tcode = format!("341504{:03}", 100 + t);
            towns.push(grids.len());
            grids.push(Grid {
                code: tcode.clone(),
                name: format!("{}镇", stem(t, 5)),
                level: 2,
                parent: "341504".into(),
                alias: String::new(),
                square: None,
            });
            for v in 0..VILLAGES_PER_TOWN {
                let vi = t * VILLAGES_PER_TOWN + v;
                let vstem = stem(vi, 11);
                let vcode = format!("{tcode}{:03}", 200 + v);
                let (row, col) = (vi / 25, vi % 25);
                let (lat0, lng0) = (
                    ORIGIN.0 + row as f64 * VILLAGE_SIDE,
                    ORIGIN.1 + col as f64 * VILLAGE_SIDE,
                );
                villages.push(grids.len());
                grids.push(Grid {
                    code: vcode.clone(),
                    name: format!("{vstem}村"),
                    level: 3,
                    parent: tcode.clone(),
                    alias: format!("{vstem}社区"),
                    square: Some((lat0, lng0, VILLAGE_SIDE)),
                });
                for (g, numeral) in NUM.iter().enumerate().take(GROUPS_PER_VILLAGE) {
                    groups.push(grids.len());
                    let square = vi.is_multiple_of(2).then(|| {
                        let (r, c) = (g / 5, g % 5);
                        (
                            lat0 + r as f64 * GROUP_SIDE,
                            lng0 + c as f64 * GROUP_SIDE,
                            GROUP_SIDE,
                        )
                    });
                    grids.push(Grid {
                        code: format!("{vcode}{:03}", g + 1),
                        name: format!("{vstem}村{}组", g + 1),
                        level: 4,
                        parent: vcode.clone(),
                        alias: format!("{vstem}{numeral}组"),
                        square,
                    });
                }
            }
        }
        County {
            grids,
            towns,
            villages,
            groups,
            workers: WORKERS,
        }
    }
}

fn ring(sq: (f64, f64, f64)) -> String {
    let (lat, lng, s) = sq;
    format!(
        r#"[{{"lat":{lat},"lng":{lng}}},{{"lat":{lat},"lng":{}}},{{"lat":{},"lng":{}}},{{"lat":{},"lng":{lng}}}]"#,
        lng + s,
        lat + s,
        lng + s,
        lat + s
    )
}

#[derive(Default)]
struct Workers {
    id: Vec<Uuid>,
    staff: Vec<String>,
    role: Vec<i16>,
    chief_of: Vec<String>,
    capacity: Vec<i32>,
    post_worker: Vec<Uuid>,
    post_grid: Vec<String>,
    post_kind: Vec<&'static str>,
    leave: Vec<Uuid>,
    off: Vec<Uuid>,
    /// (worker, open tasks to give them)
    open: Vec<(Uuid, usize)>,
}

impl Workers {
    fn add(&mut self, role: i16, chief_of: &str, capacity: i32) -> Uuid {
        let n = self.id.len();
        let id = Uuid::from_u128(0xB0_0000_0000 + n as u128);
        self.id.push(id);
        self.staff.push(format!("W{n:06}"));
        self.role.push(role);
        self.chief_of.push(chief_of.to_owned());
        self.capacity.push(capacity);
        id
    }

    fn post_holder(&mut self, rng: &mut Rng, grid: &str, kind: &'static str) {
        let roll = rng.below(100);
        let capacity = if (20..30).contains(&roll) { 2 } else { 0 };
        let id = self.add(2, "", capacity);
        self.post_worker.push(id);
        self.post_grid.push(grid.to_owned());
        self.post_kind.push(kind);
        match roll {
            0..15 => self.leave.push(id),
            15..20 => self.off.push(id),
            20..30 => self.open.push((id, 2)),
            _ if rng.below(5) == 0 => self.open.push((id, 1)),
            _ => {}
        }
    }
}

/// Writes the county and its workers; returns how many workers were written.
pub async fn write(db: &mut PgConnection, county: &County) -> Result<usize, sqlx::Error> {
    let g = &county.grids;
    let nan = f64::NAN;
    let bounds: Vec<(f64, f64, f64, f64)> = g
        .iter()
        .map(|g| match g.square {
            Some((lat, lng, s)) => (lat, lat + s, lng, lng + s),
            None => (nan, nan, nan, nan),
        })
        .collect();
    sqlx::query(
        "INSERT INTO grids (code, name, level, parent_code, aliases, boundary, \
           min_lat, max_lat, min_lng, max_lng) \
         SELECT code, name, level, NULLIF(parent, ''), \
           CASE WHEN alias = '' THEN '{}'::text[] ELSE ARRAY[alias] END, \
           NULLIF(ring, '')::jsonb, NULLIF(a, 'NaN'), NULLIF(b, 'NaN'), NULLIF(c, 'NaN'), \
           NULLIF(d, 'NaN') \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
           $7::float8[], $8::float8[], $9::float8[], $10::float8[]) \
           AS t(code, name, level, parent, alias, ring, a, b, c, d)",
    )
    .bind(g.iter().map(|g| g.code.clone()).collect::<Vec<_>>())
    .bind(g.iter().map(|g| g.name.clone()).collect::<Vec<_>>())
    // Stored by name: the level's number is its place in the list, county first.
    .bind(
        g.iter()
            .map(|g| grid_level::NAMES[g.level as usize - 1])
            .collect::<Vec<_>>(),
    )
    .bind(g.iter().map(|g| g.parent.clone()).collect::<Vec<_>>())
    .bind(g.iter().map(|g| g.alias.clone()).collect::<Vec<_>>())
    .bind(
        g.iter()
            .map(|g| g.square.map(ring).unwrap_or_default())
            .collect::<Vec<_>>(),
    )
    .bind(bounds.iter().map(|b| b.0).collect::<Vec<_>>())
    .bind(bounds.iter().map(|b| b.1).collect::<Vec<_>>())
    .bind(bounds.iter().map(|b| b.2).collect::<Vec<_>>())
    .bind(bounds.iter().map(|b| b.3).collect::<Vec<_>>())
    .execute(&mut *db)
    .await?;

    let mut rng = Rng::new(0x5eed);
    let mut w = Workers::default();
    w.add(1, &g[0].code, 0);
    for &i in county.towns.iter().chain(&county.villages) {
        w.add(1, &g[i].code, 0);
        for kind in ["a", "a", "b", "b"] {
            w.post_holder(&mut rng, &g[i].code, kind);
        }
    }
    for &i in &county.groups {
        let chief = w.add(1, &g[i].code, 0);
        if rng.below(50) == 0 {
            w.off.push(chief);
        }
        if rng.below(20) != 0 {
            for kind in ["a", "a", "a", "b", "b", "b"] {
                w.post_holder(&mut rng, &g[i].code, kind);
            }
        }
    }
    while w.id.len() < county.workers {
        w.add(3, "", 0);
    }
    sqlx::query(
        "INSERT INTO workers (worker_id, staff_no, name, role, phone, chief_of_grid, capacity) \
         SELECT id, staff, '网格员' || staff, role, '139' || lpad((row_number() OVER ())::text, 8, '0'), \
           NULLIF(chief, ''), cap \
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[]) \
           AS t(id, staff, role, chief, cap)",
    )
    .bind(&w.id)
    .bind(&w.staff)
    .bind(
        w.role
            .iter()
            .map(|r| role::name(WorkerRole::try_from(i32::from(*r)).unwrap_or_default()))
            .collect::<Vec<_>>(),
    )
    .bind(&w.chief_of)
    .bind(&w.capacity)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "INSERT INTO posts (worker_id, grid_code, post) \
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])",
    )
    .bind(&w.post_worker)
    .bind(&w.post_grid)
    .bind(&w.post_kind)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "UPDATE workers SET leave_from = now() - interval '2 days', \
           leave_until = now() + interval '5 days' WHERE worker_id = ANY($1)",
    )
    .bind(&w.leave)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "UPDATE workers SET on_duty = false, duty_reason = '培训' WHERE worker_id = ANY($1)",
    )
    .bind(&w.off)
    .execute(&mut *db)
    .await?;
    // Open tasks need tickets of their own (one current HANDLE task per ticket).
    let post_grid: std::collections::HashMap<Uuid, &String> =
        w.post_worker.iter().copied().zip(&w.post_grid).collect();
    let (mut tid, mut twork, mut tgrid) = (Vec::new(), Vec::new(), Vec::new());
    for (worker, n) in &w.open {
        for _ in 0..*n {
            // Ticket ids are UUIDs; the seeded ones sit far above the measured ones.
            tid.push(uuid::Uuid::from_u128((1 << 64) + tid.len() as u128));
            twork.push(*worker);
            tgrid.push(post_grid[worker].clone());
        }
    }
    sqlx::query(
        "INSERT INTO tickets (ticket_id, loop_state) SELECT id, '{}'::jsonb FROM unnest($1::uuid[]) id",
    )
    .bind(&tid)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "INSERT INTO tasks (ticket_id, kind, state, grid_code, worker_id) \
         SELECT id, 'handle', 'pending_accept', grid, worker FROM unnest($1::uuid[], $2::uuid[], $3::text[]) \
           AS t(id, worker, grid)",
    )
    .bind(&tid)
    .bind(&twork)
    .bind(&tgrid)
    .execute(&mut *db)
    .await?;
    sqlx::query("ANALYZE").execute(&mut *db).await?;
    Ok(w.id.len())
}
