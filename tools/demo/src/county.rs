//! The demo county, on the scale of the field reports of 叶集区三元镇: one town of 10
//! villages and communities with 185 村民组, 72 专职网格员 holding the A and B posts of the
//! groups, a 网格长 per village and one for the town, 网格协管员 at the village and town
//! desks, and 300 households with one-key call buttons (many of them elderly people living
//! alone). Everything is derived from fixed tables, so a second run upserts the same data.

use gridloop_proto::v1 as pb;

pub const COUNTY: (&str, &str) = ("341504", "叶集区");
pub const TOWN: (&str, &str) = ("341504102", "三元镇");

/// The villages and communities: code suffix, name, number of groups (185 in all).
const VILLAGES: [(&str, &str, usize); 10] = [
    ("001", "三元社区", 12),
    ("002", "新街社区", 14),
    ("201", "梁岗村", 22),
    ("202", "红石村", 21),
    ("203", "徐岗村", 19),
    ("204", "王店村", 20),
    ("205", "新桥村", 18),
    ("206", "林湾村", 20),
    ("207", "龙潭村", 19),
    ("208", "孙岗村", 20),
];

/// Villages whose groups have surveyed boundaries (the others only the village's).
const SURVEYED: usize = 3;
pub const WORKERS: usize = 72;
pub const DEVICES: usize = 300;
/// Workers on leave (index, reason) and off duty.
const ON_LEAVE: [(usize, &str); 6] = [
    (3, "病假"),
    (17, "年假"),
    (29, "产假"),
    (41, "病假"),
    (55, "婚假"),
    (66, "年假"),
];
pub const OFF_DUTY: (usize, &str) = (60, "外出培训");

const SURNAMES: &str =
    "张王李刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程";
const GIVEN: &str =
    "国华建军秀英桂兰志强海燕春梅德明玉珍永刚丽娟文杰凤英家宝红霞立新淑芬长林晓东金花";
const CN_NUM: [&str; 23] = [
    "",
    "一",
    "二",
    "三",
    "四",
    "五",
    "六",
    "七",
    "八",
    "九",
    "十",
    "十一",
    "十二",
    "十三",
    "十四",
    "十五",
    "十六",
    "十七",
    "十八",
    "十九",
    "二十",
    "二十一",
    "二十二",
];

#[derive(Clone, Debug)]
pub struct Village {
    pub code: String,
    pub name: String,
    pub groups: Vec<usize>,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub code: String,
    pub name: String,
    pub alias: String,
    pub village: usize,
    /// Number inside the village, 1-based.
    pub number: usize,
    /// Centre of its surveyed boundary, when it has one.
    pub centre: Option<(f64, f64)>,
}

/// A worker to upsert: staff number, name, role, posts, chief-of grid.
#[derive(Clone, Debug)]
pub struct Staff {
    pub staff_no: String,
    pub name: String,
    pub role: pb::WorkerRole,
    pub phone: String,
    pub posts: Vec<(String, pb::Post)>,
    pub chief_of: String,
    pub leave: Option<&'static str>,
    pub off_duty: Option<&'static str>,
}

#[derive(Clone, Debug)]
pub struct Household {
    pub device_id: String,
    pub group: usize,
    pub address: String,
    pub phone: String,
    pub name: String,
    pub elderly_alone: bool,
    pub flags: Vec<pb::HouseholdFlag>,
}

pub struct County {
    pub villages: Vec<Village>,
    pub groups: Vec<Group>,
    pub staff: Vec<Staff>,
    pub households: Vec<Household>,
    /// Index into `staff` of the A post holder of each group.
    pub group_a: Vec<usize>,
}

pub fn person_name(i: usize) -> String {
    let s: Vec<char> = SURNAMES.chars().collect();
    let g: Vec<char> = GIVEN.chars().collect();
    let a = (i * 7 + 3) % g.len();
    let b = (i * 13 + 5) % g.len();
    format!("{}{}{}", s[(i * 11) % s.len()], g[a], g[b])
}

fn short(village: &str) -> &str {
    village
        .strip_suffix("社区")
        .or_else(|| village.strip_suffix('村'))
        .unwrap_or(village)
}

fn rect(lat0: f64, lng0: f64, dlat: f64, dlng: f64) -> pb::Polygon {
    let p = |lat: f64, lng: f64| pb::GeoPoint { lat, lng };
    pb::Polygon {
        points: vec![
            p(lat0, lng0),
            p(lat0, lng0 + dlng),
            p(lat0 + dlat, lng0 + dlng),
            p(lat0 + dlat, lng0),
        ],
    }
}

/// Village `i`'s south-west corner: five columns, two rows of 0.03° squares.
fn village_corner(i: usize) -> (f64, f64) {
    (
        31.80 + (i / 5) as f64 * 0.03,
        115.85 + (i % 5) as f64 * 0.03,
    )
}

const VILLAGE_SPAN: f64 = 0.03;

/// The group's cell inside its village (a near-square grid of cells).
fn group_cell(j: usize, n: usize) -> (f64, f64, f64, f64) {
    let cols = (n as f64).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    let (dlat, dlng) = (VILLAGE_SPAN / rows as f64, VILLAGE_SPAN / cols as f64);
    (
        (j / cols) as f64 * dlat,
        (j % cols) as f64 * dlng,
        dlat,
        dlng,
    )
}

impl County {
    pub fn build() -> County {
        let mut villages = Vec::new();
        let mut groups = Vec::new();
        for (vi, (suffix, name, n)) in VILLAGES.iter().enumerate() {
            let code = format!("{}{suffix}", TOWN.0);
            let (lat0, lng0) = village_corner(vi);
            let mut members = Vec::new();
            for j in 0..*n {
                let centre = (vi < SURVEYED).then(|| {
                    let (la, ln, dla, dln) = group_cell(j, *n);
                    (lat0 + la + dla / 2.0, lng0 + ln + dln / 2.0)
                });
                members.push(groups.len());
                groups.push(Group {
                    code: format!("{code}{:02}", j + 1),
                    name: format!("{name}{}组", j + 1),
                    alias: format!("{}{}组", short(name), CN_NUM[j + 1]),
                    village: vi,
                    number: j + 1,
                    centre,
                });
            }
            villages.push(Village {
                code,
                name: name.to_string(),
                groups: members,
            });
        }
        let (staff, group_a) = staff(&villages, &groups);
        let households = households(&villages, &groups);
        County {
            villages,
            groups,
            staff,
            households,
            group_a,
        }
    }

    /// The grid tree as UpsertGrid wants it, parents first.
    pub fn grids(&self) -> Vec<pb::Grid> {
        let grid = |code: &str, name: &str, level: pb::GridLevel, parent: &str| pb::Grid {
            code: code.into(),
            name: name.into(),
            level: level as i32,
            parent_code: parent.into(),
            ..Default::default()
        };
        let mut out = vec![
            grid(COUNTY.0, COUNTY.1, pb::GridLevel::County, ""),
            pb::Grid {
                aliases: vec!["三元".into(), "三元乡".into()],
                ..grid(TOWN.0, TOWN.1, pb::GridLevel::Town, COUNTY.0)
            },
        ];
        for (vi, v) in self.villages.iter().enumerate() {
            let (lat0, lng0) = village_corner(vi);
            out.push(pb::Grid {
                aliases: vec![format!("{}{}", TOWN.1, v.name), short(&v.name).to_string()],
                boundary: Some(rect(lat0, lng0, VILLAGE_SPAN, VILLAGE_SPAN)),
                ..grid(&v.code, &v.name, pb::GridLevel::Village, TOWN.0)
            });
            for &gi in &v.groups {
                let g = &self.groups[gi];
                let boundary = g.centre.map(|_| {
                    let (la, ln, dla, dln) = group_cell(g.number - 1, v.groups.len());
                    rect(lat0 + la, lng0 + ln, dla, dln)
                });
                out.push(pb::Grid {
                    aliases: vec![g.alias.clone()],
                    boundary,
                    ..grid(&g.code, &g.name, pb::GridLevel::Group, &v.code)
                });
            }
        }
        out
    }
}

/// 72 workers spread over the villages by their number of groups (largest remainder); in a
/// village with k workers, group j's A post is worker j mod k and its B post the next one.
/// Then a 网格协管员 at each village desk, two at the town's 综治中心, and the chiefs.
fn staff(villages: &[Village], groups: &[Group]) -> (Vec<Staff>, Vec<usize>) {
    let total: usize = villages.iter().map(|v| v.groups.len()).sum();
    let mut quota: Vec<usize> = villages
        .iter()
        .map(|v| v.groups.len() * WORKERS / total)
        .collect();
    let mut order: Vec<usize> = (0..villages.len()).collect();
    order.sort_by_key(|&i| {
        std::cmp::Reverse((villages[i].groups.len() * WORKERS) % total * 1000 + (99 - i))
    });
    let missing = WORKERS - quota.iter().sum::<usize>();
    for &i in order.iter().take(missing) {
        quota[i] += 1;
    }
    let mut staff = Vec::new();
    let mut group_a = vec![0; groups.len()];
    let phone = |n: usize| format!("1390564{n:04}");
    for (vi, v) in villages.iter().enumerate() {
        let first = staff.len();
        let k = quota[vi];
        for w in 0..k {
            let n = first + w;
            staff.push(Staff {
                staff_no: format!("SY-WG-{:03}", n + 1),
                name: person_name(n + 100),
                role: pb::WorkerRole::GridWorker,
                phone: phone(n),
                posts: Vec::new(),
                chief_of: String::new(),
                leave: ON_LEAVE.iter().find(|(i, _)| *i == n).map(|(_, r)| *r),
                off_duty: (OFF_DUTY.0 == n).then_some(OFF_DUTY.1),
            });
        }
        for (j, &gi) in v.groups.iter().enumerate() {
            let code = groups[gi].code.clone();
            staff[first + j % k].posts.push((code.clone(), pb::Post::A));
            staff[first + (j + 1) % k].posts.push((code, pb::Post::B));
            group_a[gi] = first + j % k;
        }
    }
    for (vi, v) in villages.iter().enumerate() {
        let n = 200 + vi;
        staff.push(Staff {
            staff_no: format!("SY-XG-{:02}", vi + 1),
            name: person_name(n),
            role: pb::WorkerRole::GridAssistant,
            phone: phone(n),
            posts: vec![(v.code.clone(), pb::Post::A)],
            chief_of: String::new(),
            leave: None,
            off_duty: None,
        });
    }
    for (i, post) in [pb::Post::A, pb::Post::B].into_iter().enumerate() {
        let n = 220 + i;
        staff.push(Staff {
            staff_no: format!("SY-XG-Z{}", i + 1),
            name: person_name(n),
            role: pb::WorkerRole::GridAssistant,
            phone: phone(n),
            posts: vec![(TOWN.0.to_string(), post)],
            chief_of: String::new(),
            leave: None,
            off_duty: None,
        });
    }
    let chiefs = villages
        .iter()
        .map(|v| v.code.clone())
        .chain([TOWN.0.to_string()]);
    for (i, code) in chiefs.enumerate() {
        let n = 300 + i;
        staff.push(Staff {
            staff_no: format!("SY-WZ-{:02}", i + 1),
            name: person_name(n),
            role: pb::WorkerRole::GridChief,
            phone: phone(n),
            posts: Vec::new(),
            chief_of: code,
            leave: None,
            off_duty: None,
        });
    }
    (staff, group_a)
}

/// 300 households with a button, spread over the groups; 40% elderly people living alone.
fn households(villages: &[Village], groups: &[Group]) -> Vec<Household> {
    (0..DEVICES)
        .map(|i| {
            let gi = (i * 37) % groups.len();
            let g = &groups[gi];
            let elderly_alone = i % 5 < 2;
            let mut flags = Vec::new();
            if elderly_alone {
                flags.push(pb::HouseholdFlag::ElderlyLivingAlone);
            }
            if i % 7 == 0 {
                flags.push(pb::HouseholdFlag::Disabled);
            }
            if i % 9 == 0 {
                flags.push(pb::HouseholdFlag::LowIncome);
            }
            if i % 23 == 0 {
                flags.push(pb::HouseholdFlag::SpecialCare);
            }
            Household {
                device_id: format!("SY-YJ-{:04}", i + 1),
                group: gi,
                address: format!(
                    "{}{}{}{}号",
                    TOWN.1,
                    villages[g.village].name,
                    g.name.trim_start_matches(villages[g.village].name.as_str()),
                    i % 40 + 1
                ),
                phone: format!("1550564{:04}", i + 1),
                name: person_name(i + 500),
                elderly_alone,
                flags,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_county_has_the_fields_scale() {
        let c = County::build();
        assert_eq!(c.villages.len(), 10);
        assert_eq!(c.groups.len(), 185);
        let workers = c
            .staff
            .iter()
            .filter(|s| s.role == pb::WorkerRole::GridWorker)
            .count();
        assert_eq!(workers, 72);
        assert_eq!(c.households.len(), 300);
        let codes: HashSet<_> = c.grids().iter().map(|g| g.code.clone()).collect();
        assert_eq!(codes.len(), 1 + 1 + 10 + 185);
        // Every group has one A and one B holder, and they are different people.
        for g in &c.groups {
            let holders: Vec<_> = c
                .staff
                .iter()
                .flat_map(|s| s.posts.iter().map(move |p| (s, p)))
                .filter(|(_, (code, _))| *code == g.code)
                .collect();
            assert_eq!(holders.len(), 2, "{}", g.name);
            assert_ne!(holders[0].0.staff_no, holders[1].0.staff_no);
        }
        assert_eq!(c.groups[2].name, "三元社区3组");
        assert_eq!(c.groups[2].alias, "三元三组");
        assert!(c.households[0].address.starts_with("三元镇三元社区1组"));
    }
}
