//! What the demo's tickets will do: for each, the channel it comes in by, where, the
//! category, the path through the loop, and how many repeat complaints follow it. Fixed by
//! a hash of the ticket's number, so every run has the same mix.

use gridloop_proto::v1 as pb;

use crate::county::{County, DEVICES};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chan {
    Hotline,
    /// Index into the county's households.
    OneKey(usize),
    App(pb::Channel),
    Patrol,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Path {
    /// Accepted, disposed, rated satisfied (or basically) and closed.
    Closed(pb::Rating),
    /// 退单 by the first worker, re-dispatched, then closed.
    Returned,
    /// 转办 to the neighbouring group, then closed.
    Transferred,
    /// Rated dissatisfied, reopened, disposed again (返工), then closed.
    Reworked,
    /// Three unreached callbacks, then a supervisor's exemption.
    Unreached,
    /// Disposed as unresolvable, the exemption confirmed by a supervisor.
    Unresolvable,
    /// Left waiting for 签收 (urgent: its respond deadline runs out first). By phone or on
    /// patrol it is a safety hazard (治安隐患), whose respond limit is minutes.
    LeftUnaccepted,
    /// Accepted, not yet disposed.
    LeftAccepted,
    /// Disposed, waiting for the citizen's rating.
    LeftDisposed,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub n: usize,
    pub chan: Chan,
    pub path: Path,
    pub group: usize,
    pub category: &'static str,
    pub urgent: bool,
    pub repeats: usize,
}

impl Plan {
    /// Submissions this plan makes (the ticket and its repeats).
    pub fn submissions(&self) -> usize {
        1 + self.repeats
    }

    /// An urgent safety hazard left waiting for 签收: the town's rule gives it minutes to
    /// respond, so it goes overdue (督办) within the demo's run. One-key calls are filed under
    /// intake's one-key category, whatever the plan says, so they are never hazards.
    pub fn hazard(&self) -> bool {
        self.path == Path::LeftUnaccepted
            && self.urgent
            && self.category == HAZARD
            && !matches!(self.chan, Chan::OneKey(_))
    }
}

/// The category whose urgent tickets the demo's SLA rule answers within minutes.
pub const HAZARD: &str = "public_security";

const GROUP_LEVEL: [&str; 2] = ["neighbor_dispute", "elderly_care"];
const VILLAGE_LEVEL: [&str; 4] = ["environment", "public_security", "consultation", "other"];

/// Category weights (out of 100).
const CATEGORIES: [(&str, u64); 9] = [
    ("environment", 22),
    ("neighbor_dispute", 18),
    ("municipal", 12),
    ("public_security", 10),
    ("consultation", 10),
    ("elderly_care", 10),
    ("land_housing", 7),
    ("labor_wage", 6),
    ("other", 5),
];

/// SplitMix64: a well-spread hash of the ticket number and a salt.
pub fn mix(n: u64, salt: u64) -> u64 {
    let mut z = n
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick_category(r: u64) -> &'static str {
    let mut x = r % 100;
    for (c, w) in CATEGORIES {
        if x < w {
            return c;
        }
        x -= w;
    }
    "other"
}

fn path_of(r: u64) -> Path {
    match r % 100 {
        0..=61 | 96..=99 => Path::Closed(if r.is_multiple_of(5) {
            pb::Rating::BasicallySatisfied
        } else {
            pb::Rating::Satisfied
        }),
        62..=69 => Path::Returned,
        70..=74 => Path::Transferred,
        75..=82 => Path::Reworked,
        83..=86 => Path::Unreached,
        87..=88 => Path::Unresolvable,
        89..=91 => Path::LeftAccepted,
        92..=93 => Path::LeftDisposed,
        _ => Path::LeftUnaccepted,
    }
}

/// Plans whose submissions add up to `total`; `offset` rotates the one-key devices so that
/// a second run presses other buttons first.
pub fn plans(county: &County, total: usize, offset: usize) -> Vec<Plan> {
    let mut out = Vec::new();
    let mut used = 0;
    let mut presses = 0;
    let elderly: Vec<usize> = (0..DEVICES)
        .filter(|&h| county.households[h].elderly_alone)
        .collect();
    while used < total {
        let n = out.len();
        let r = |salt| mix(n as u64, salt);
        let path = path_of(r(1));
        let mut category = pick_category(r(2));
        let mut chan = match r(3) % 100 {
            0..=39 => Chan::Hotline,
            40..=54 => Chan::OneKey(0),
            55..=74 => Chan::App(pb::Channel::App),
            75..=79 => Chan::App(pb::Channel::Mailbox),
            80..=84 => Chan::App(pb::Channel::Web),
            _ => Chan::Patrol,
        };
        match path {
            // Callbacks are the 12345 centre's: the ticket came by phone.
            Path::Unreached if !matches!(chan, Chan::Hotline | Chan::OneKey(_)) => {
                chan = Chan::Hotline
            }
            // Left waiting as urgent: app submissions carry no urgency, so by phone; a call
            // or a patrol's finding that nobody signs for is a safety hazard.
            Path::LeftUnaccepted => {
                if matches!(chan, Chan::App(_)) {
                    chan = Chan::Hotline;
                }
                category = HAZARD;
            }
            // A transfer moves a group's matter to the neighbouring group.
            Path::Transferred => {
                category = GROUP_LEVEL[(r(4) % 2) as usize];
                if matches!(chan, Chan::OneKey(_)) {
                    chan = Chan::Hotline;
                }
            }
            // A return re-dispatches one level up; the town's desk is the top that answers.
            Path::Returned if !GROUP_LEVEL.contains(&category) => {
                category = VILLAGE_LEVEL[(r(4) % 4) as usize];
            }
            _ => {}
        }
        let mut group = (r(5) % county.groups.len() as u64) as usize;
        let mut urgent = path == Path::LeftUnaccepted || r(6) % 100 < 4;
        if let Chan::OneKey(_) = chan {
            let h = if path == Path::LeftUnaccepted {
                elderly[(offset + presses) % elderly.len()]
            } else {
                (offset + presses * 7) % DEVICES
            };
            presses += 1;
            chan = Chan::OneKey(h);
            group = county.households[h].group;
            urgent = county.households[h].elderly_alone;
        }
        let repeats = if chan == Chan::Patrol || path == Path::LeftUnaccepted {
            0
        } else {
            match r(7) % 100 {
                0..=5 => 1,
                6..=8 => 2,
                9 => 3,
                _ => 0,
            }
        }
        .min(total - used - 1);
        used += 1 + repeats;
        out.push(Plan {
            n,
            chan,
            path,
            group,
            category,
            urgent,
            repeats,
        });
    }
    // The hazards are called in first, so that their respond clocks run out while the other
    // tickets go through the loop (the order changes nothing else: numbers stay).
    out.sort_by_key(|p| !p.hazard());
    out
}

/// What the citizen or worker says, by category.
pub fn content(category: &str, n: usize) -> &'static str {
    let texts: &[&str] = match category {
        "neighbor_dispute" => &[
            "邻居在共用过道堆放杂物,多次协商未果,请网格员协调。",
            "两户因宅基地边界的排水沟发生争执,希望村里调解。",
            "楼上住户夜间噪音扰民,沟通无效。",
        ],
        "elderly_care" => &[
            "独居老人近几日未见出门,邻居担心,请上门看看。",
            "老人行动不便,需要代办高龄津贴认证。",
            "家中老人需要助餐服务,咨询如何申请。",
        ],
        "environment" => &[
            "村口垃圾桶满溢多日无人清运,气味很大。",
            "路边沟渠堵塞,污水外溢。",
            "有人在河边焚烧秸秆和垃圾。",
        ],
        "public_security" => &[
            "村道路灯损坏,夜间出行不安全。",
            "发现有人在水塘边钓鱼,塘边无警示牌。",
            "电动车在楼道充电,存在火灾隐患。",
        ],
        "consultation" => &[
            "咨询城乡居民医保缴费时间和标准。",
            "咨询养老保险补缴政策。",
            "咨询低保申请需要哪些材料。",
        ],
        "municipal" => &[
            "镇区主干道路面塌陷,需尽快修补。",
            "自来水管道破裂,整片停水。",
            "桥梁护栏松动,存在安全隐患。",
        ],
        "land_housing" => &[
            "老宅翻建审批一直没有结果,请帮忙查询进度。",
            "承包地被邻村占用,请求协调。",
        ],
        "labor_wage" => &[
            "在镇上工地务工,工资被拖欠两个月。",
            "厂里未签劳动合同,要求补签。",
        ],
        _ => &["其他事项,请网格员联系。", "反映问题,需要上门了解。"],
    };
    texts[n % texts.len()]
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn a_thousand_submissions_over_every_channel_and_path() {
        let county = County::build();
        let plans = plans(&county, 1000, 0);
        assert_eq!(plans.iter().map(Plan::submissions).sum::<usize>(), 1000);
        let paths: HashSet<_> = plans
            .iter()
            .map(|p| std::mem::discriminant(&p.path))
            .collect();
        assert_eq!(paths.len(), 9);
        assert!(plans.iter().any(|p| p.chan == Chan::Patrol));
        assert!(plans.iter().any(|p| matches!(p.chan, Chan::OneKey(_))));
        assert!(plans.iter().any(|p| p.chan == Chan::App(pb::Channel::Web)));
        assert!(plans.iter().any(|p| p.repeats >= 2));
        // One-key presses of one run use distinct households, unless left waiting.
        let presses: Vec<usize> = plans
            .iter()
            .filter(|p| p.path != Path::LeftUnaccepted)
            .filter_map(|p| match p.chan {
                Chan::OneKey(h) => Some(h),
                _ => None,
            })
            .collect();
        let distinct: HashSet<_> = presses.iter().collect();
        assert_eq!(distinct.len(), presses.len());
        assert!(
            plans
                .iter()
                .filter(|p| p.path == Path::Transferred)
                .all(|p| GROUP_LEVEL.contains(&p.category))
        );
    }

    #[test]
    fn urgent_hazards_left_waiting_come_first() {
        let county = County::build();
        let plans = plans(&county, 1000, 0);
        let hazards = plans.iter().take_while(|p| p.hazard()).count();
        assert!(hazards >= 10, "{hazards} hazards");
        assert_eq!(plans.iter().filter(|p| p.hazard()).count(), hazards);
        for p in &plans[..hazards] {
            assert!(p.urgent && p.category == HAZARD && p.repeats == 0);
            assert!(matches!(p.chan, Chan::Hotline | Chan::Patrol), "{p:?}");
        }
        // The rest of those left waiting are one-key calls of elderly people living alone.
        assert!(
            plans[hazards..]
                .iter()
                .filter(|p| p.path == Path::LeftUnaccepted)
                .all(|p| matches!(p.chan, Chan::OneKey(_)) && p.urgent)
        );
        // Numbers stay unique: the order changed, not the tickets.
        let numbers: HashSet<usize> = plans.iter().map(|p| p.n).collect();
        assert_eq!(numbers.len(), plans.len());
    }
}
