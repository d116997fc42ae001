//! The kill schedule: SIGKILLs spread over every process — the five services, nats-server
//! and the PostgreSQL postmaster — each restarted after a random 1–5 s. The schedule follows
//! from the seed alone, so a failing run can be repeated.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::procs::Proc;
use crate::rng::Rng;

/// One planned kill.
#[derive(Clone, Debug, PartialEq)]
pub struct Kill {
    /// Seconds after the load started.
    pub at: f64,
    /// Index into the process list.
    pub target: usize,
    /// Seconds it stays down.
    pub down: f64,
}

/// `kills` kills over `targets` processes within `duration` seconds: every target in turn
/// (in a shuffled order, so each is hit about equally often), one kill in each of `kills`
/// equal slots between 10 s after the start and 10 s before the end, at a random moment of
/// its slot.
pub fn plan(seed: u64, kills: u32, targets: usize, duration: f64) -> Vec<Kill> {
    let mut rng = Rng::new(seed);
    let mut order: Vec<usize> = (0..targets).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let (from, to) = (
        10.0_f64.min(duration / 4.0),
        (duration - 10.0).max(duration * 0.75),
    );
    let slot = (to - from) / f64::from(kills.max(1));
    (0..kills as usize)
        .map(|i| {
            let down = rng.between(1.0, 5.0);
            // Leave room in the slot for the restart, so two kills never overlap.
            let latest = (slot - down).max(0.0);
            Kill {
                at: from + slot * i as f64 + rng.between(0.0, latest.max(0.001)),
                target: order[i % targets],
                down,
            }
        })
        .collect()
}

/// Carries out `schedule` against `procs`; returns how many kills were made.
pub async fn run(schedule: Vec<Kill>, procs: Vec<Arc<Proc>>, start: Instant) -> u32 {
    let mut made = 0;
    for k in schedule {
        tokio::time::sleep_until(start + Duration::from_secs_f64(k.at)).await;
        let p = procs[k.target].clone();
        let name = p.spec.name.clone();
        let killed = tokio::task::spawn_blocking({
            let p = p.clone();
            move || p.kill9()
        })
        .await
        .ok()
        .flatten();
        match killed {
            Some(pid) => {
                made += 1;
                say!(
                    "kill {made}: SIGKILL {name} (pid {pid}); restart in {:.1} s",
                    k.down
                );
            }
            None => say!("kill skipped: {name} was not running"),
        }
        tokio::time::sleep(Duration::from_secs_f64(k.down)).await;
        p.revive();
        say!("restart {name}");
    }
    made
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_over_every_target_without_overlap() {
        let s = plan(42, 21, 7, 270.0);
        assert_eq!(s, plan(42, 21, 7, 270.0), "the seed fixes the schedule");
        assert_eq!(s.len(), 21);
        for t in 0..7 {
            assert_eq!(s.iter().filter(|k| k.target == t).count(), 3);
        }
        for w in s.windows(2) {
            assert!(w[0].at + w[0].down <= w[1].at, "{w:?}");
        }
        assert!(
            s.iter()
                .all(|k| (1.0..5.0).contains(&k.down) && k.at >= 10.0)
        );
        assert!(s.last().is_some_and(|k| k.at + k.down <= 260.0));
    }
}
