//! Routing benchmark, against the real service code and the local stack (fresh database and
//! stream), on a synthetic county of 10⁴ grids and 10⁵ workers ([`seed`]):
//!
//! 1. The dispatch decision alone: [`dispatch::plan`] over the in-memory grid index (rule,
//!    grid by code / GPS / address / fallback, lifting) then [`dispatch::finish`] (the A → B →
//!    chief → parent chief chain) over a snapshot of the candidates' availability, over varied
//!    tickets; mean, p50, p99 per decision, overall and by how the grid was found. Then
//!    [`dispatch::decide`] as the service runs it inside the inbox transaction: the same plus
//!    its one availability query, which is also timed alone.
//! 2. End to end: N `ticket.discovered` published onto the stream, the real routing App
//!    running in-process, tickets/s from the first publish until N `ticket.dispatched` are on
//!    the stream; next to raw JetStream publishes of the same events measured in the same run.
//!
//! `GRIDLOOP_BENCH_DECISIONS` (default 5000), `GRIDLOOP_BENCH_TICKETS` (default 2000). The
//! local stack must be running.

// Printing the results table is this program's job.
#![allow(clippy::print_stdout)]

#[path = "dispatch/seed.rs"]
mod seed;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use gridloop_lifecycle::Calendar;
use gridloop_platform::nats::Bus;
use gridloop_platform::outbox;
use gridloop_platform::testing::{self, TestEnv};
use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::{
    Category, Channel, GeoPoint, Location, MaskedContact, TicketDiscovered, TicketEvent, Urgency,
};
use gridloop_routing::dispatch::{self, Ctx, Decision, Target};
use gridloop_routing::index::Index;
use gridloop_routing::tickets::TicketRow;
use gridloop_routing::{App, pick, workers};
use prost::Message;
use sqlx::{Connection, PgConnection};
use tokio_util::sync::CancellationToken;

use seed::{County, Rng};

const CATEGORIES: &[&str] = &[
    "neighbor_dispute",
    "environment",
    "public_security",
    "elderly_care",
    "consultation",
    "municipal",
    "land_housing",
    "labor_wage",
    "other",
];

fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Where a synthetic ticket says it is, and which resolution path that should take.
struct Place {
    kind: &'static str,
    grid_code: String,
    point: Option<(f64, f64)>,
    address: String,
}

/// A varied mix: 35% grid code, 5% unknown code under a known village, 25% GPS point in a
/// village square, 30% address text (full, aliases only, village only), 5% nothing usable.
fn place(c: &County, rng: &mut Rng) -> Place {
    let g = &c.grids;
    let group = &g[c.groups[rng.below(c.groups.len())]];
    let village = g.iter().find(|v| v.code == group.parent).expect("village");
    let town = g.iter().find(|t| t.code == village.parent).expect("town");
    let roll = rng.below(100);
    let mut p = Place {
        kind: "",
        grid_code: String::new(),
        point: None,
        address: String::new(),
    };
    match roll {
        0..35 => {
            p.kind = "grid code";
            p.grid_code = group.code.clone();
        }
        35..40 => {
            p.kind = "unknown code (fallback)";
            p.grid_code = format!("{}999", village.code);
        }
        40..65 => {
            p.kind = "GPS point";
            let (lat, lng, s) = village.square.expect("villages have squares");
            p.point = Some((lat + rng.unit() * s, lng + rng.unit() * s));
        }
        65..95 => {
            p.kind = "address text";
            p.address = match rng.below(3) {
                0 => format!("{}{}{}{}号", town.name, village.name, group.name, roll),
                1 => format!("{}{}东侧", village.alias, group.alias),
                _ => format!("{}{}村委会旁", town.name, village.name),
            };
        }
        _ => {
            p.kind = "nothing usable (county desk)";
            p.address = "某某路88号".into();
        }
    }
    p
}

fn ticket_row(i: usize, p: &Place, category: &str) -> TicketRow {
    TicketRow {
        ticket_id: uuid::Uuid::from_u128(i as u128).into(),
        loop_state: String::new(),
        category_code: category.into(),
        category_name: category.into(),
        urgency: "unspecified".into(),
        sla_class: "general".into(),
        channel: "hotline_12345".into(),
        address: p.address.clone(),
        grid_hint: p.grid_code.clone(),
        lat: p.point.map(|x| x.0),
        lng: p.point.map(|x| x.1),
        citizen_key: "ck-bench".into(),
        attempt: 0,
        dispose_by: None,
    }
}

fn discovered(i: usize, p: &Place, category: &str) -> TicketEvent {
    outbox::new_event(
        "intake",
        // A ticket id the inbox accepts (a UUID), apart from the decision benchmark's.
        &uuid::Uuid::from_u128((2 << 64) + i as u128).to_string(),
        Body::Discovered(TicketDiscovered {
            channel: Channel::Hotline12345 as i32,
            external_id: format!("ext-{i}"),
            category: Some(Category {
                code: category.into(),
                name: category.into(),
            }),
            urgency: Urgency::General as i32,
            content: "小区门口垃圾堆放多日无人清运，请尽快处理。".into(),
            contact: Some(MaskedContact {
                masked_phone: "139****0000".into(),
                citizen_key: format!("ck-{i}"),
            }),
            location: Some(Location {
                address: p.address.clone(),
                grid_code: p.grid_code.clone(),
                point: p.point.map(|(lat, lng)| GeoPoint { lat, lng }),
            }),
            ..Default::default()
        }),
    )
}

struct Stats {
    mean: f64,
    p50: f64,
    p99: f64,
    n: usize,
}

/// Microseconds.
fn stats(mut d: Vec<Duration>) -> Stats {
    d.sort();
    let us = |x: Duration| x.as_secs_f64() * 1e6;
    let at = |p: f64| us(d[((d.len() as f64 * p) as usize).min(d.len() - 1)]);
    Stats {
        mean: d.iter().map(|x| us(*x)).sum::<f64>() / d.len() as f64,
        p50: at(0.50),
        p99: at(0.99),
        n: d.len(),
    }
}

fn row(name: &str, s: &Stats) {
    println!(
        "| {name:<44} | {:>7} | {:>9.1} | {:>9.1} | {:>9.1} |",
        s.n, s.mean, s.p50, s.p99
    );
}

fn outcome_key(d: &Decision) -> String {
    match d {
        Decision::Nobody { .. } => "nobody (unroutable)".to_string(),
        Decision::To { choice, cause, .. } => {
            let tier = choice
                .reason
                .rsplit("; ")
                .next()
                .unwrap_or_default()
                .trim_end_matches(" chosen");
            let tier = tier.split(" (").next().unwrap_or(tier);
            format!("{tier}{}", if cause.is_some() { ", 兜底 desk" } else { "" })
        }
    }
}

fn header(title: &str) {
    println!("\n## {title}\n");
    println!(
        "| {:<44} | {:>7} | {:>9} | {:>9} | {:>9} |",
        "tickets", "n", "mean", "p50", "p99"
    );
    println!(
        "|{:-<46}|{:->9}|{:->11}|{:->11}|{:->11}|",
        "", "", "", "", ""
    );
}

/// The decision over `n` varied tickets: first alone (the in-memory index, then the AB chain
/// over a snapshot of the candidates' availability read beforehand), then as the service
/// makes it inside the transaction (plus its one availability query).
async fn decisions(db: &mut PgConnection, c: &County, n: usize) {
    let cal = Calendar::china_default();
    let mut rng = Rng::new(42);
    let tickets: Vec<(&'static str, TicketRow)> = (0..n + 500)
        .map(|i| {
            let p = place(c, &mut rng);
            let cat = CATEGORIES[rng.below(CATEGORIES.len())];
            (p.kind, ticket_row(i, &p, cat))
        })
        .collect();

    let t = Instant::now();
    let index = Index::load(db).await.expect("index");
    let ix = index.snapshot();
    println!(
        "\ngrid index: {} grids, {} names and aliases, loaded in {:.0} ms (version {})",
        ix.nodes.len(),
        ix.names.len(),
        t.elapsed().as_secs_f64() * 1e3,
        ix.version
    );

    // The availability snapshot: each ticket's candidate tiers as the query returns them now.
    let mut snapshot = Vec::with_capacity(tickets.len());
    for (_, t) in &tickets {
        let plan = dispatch::plan(&ix, t, &Target::Resolve)
            .expect("plan")
            .expect("a grid");
        let (_, tiers) = workers::tiers(db, &plan.grid, &plan.ancestors)
            .await
            .expect("tiers");
        snapshot.push(tiers);
    }
    let now = chrono::Utc::now();
    let mut all = Vec::with_capacity(n);
    let mut by_kind: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut resolve_only = Vec::with_capacity(n);
    let mut outcome: BTreeMap<String, usize> = BTreeMap::new();
    for round in 0..3 {
        for (i, ((kind, t), tiers)) in tickets.iter().zip(&snapshot).enumerate() {
            let start = Instant::now();
            let plan = dispatch::plan(&ix, std::hint::black_box(t), &Target::Resolve)
                .expect("plan")
                .expect("a grid");
            let mid = Instant::now();
            let d = dispatch::finish(plan, tiers, now);
            let took = start.elapsed();
            if i < 500 {
                continue;
            }
            all.push(took);
            resolve_only.push(mid - start);
            by_kind.entry(kind).or_default().push(took);
            if round == 0 {
                *outcome.entry(outcome_key(&d)).or_default() += 1;
            }
            std::hint::black_box(d);
        }
    }
    header(
        "The dispatch decision alone (in memory: grid, lifting, AB chain over an availability snapshot), µs",
    );
    row("all, varied (3 passes)", &stats(all));
    for (kind, d) in by_kind {
        row(&format!("  {kind}"), &stats(d));
    }
    row("  of which grid resolution + lifting", &stats(resolve_only));
    println!("\noutcomes: {outcome:?}");

    // As the service runs it: the index, then one query for the candidates' availability.
    let mut real = Vec::with_capacity(n);
    let mut query = Vec::with_capacity(n);
    let mut same = 0usize;
    for (i, (_, t)) in tickets.iter().enumerate() {
        let ctx = Ctx {
            cal: &cal,
            now: chrono::Utc::now(),
        };
        let start = Instant::now();
        let d = dispatch::decide(db, &index, &ctx, t, &Target::Resolve, None)
            .await
            .expect("decide");
        let took = start.elapsed();
        let plan = dispatch::plan(&ix, t, &Target::Resolve)
            .expect("plan")
            .expect("a grid");
        let start = Instant::now();
        let q = workers::tiers(db, &plan.grid, &plan.ancestors)
            .await
            .expect("tiers");
        let q_took = start.elapsed();
        std::hint::black_box(q);
        if i < 500 {
            continue;
        }
        real.push(took);
        query.push(q_took);
        same +=
            usize::from(outcome_key(&d) == outcome_key(&dispatch::finish(plan, &snapshot[i], now)));
    }
    header(
        "The decision in the service (dispatch::decide: in memory + one availability query), µs",
    );
    row("all, varied", &stats(real));
    row("  the availability query alone", &stats(query));

    // The AB chain alone on the same snapshot.
    let mut pure = Vec::new();
    for _ in 0..3 {
        for tiers in &snapshot {
            let start = Instant::now();
            let c = pick::choose(std::hint::black_box(tiers), now, &[]);
            pure.push(start.elapsed());
            std::hint::black_box(c).ok();
        }
    }
    row("pick::choose alone (tiers in memory)", &stats(pure));

    // What one PostgreSQL round trip costs on this machine now, to read the rows above by.
    let mut trip = Vec::new();
    for _ in 0..2000 {
        let start = Instant::now();
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut *db)
            .await
            .expect("select 1");
        trip.push(start.elapsed());
        std::hint::black_box(one);
    }
    row("baseline: one `SELECT 1` round trip", &stats(trip));
    println!("\nin-service and in-memory decisions agree on the tier for {same} of {n} tickets");
}

async fn dispatched_count(bus: &Bus, consumer: &str) -> u64 {
    let mut c: async_nats::jetstream::consumer::PullConsumer = bus
        .js
        .get_consumer_from_stream(consumer, &bus.stream)
        .await
        .expect("consumer");
    c.info().await.expect("consumer info").num_pending
}

/// End to end through NATS and PostgreSQL, then the raw publish baseline.
async fn end_to_end(bus: &Bus, c: &County, n: usize) {
    let mut rng = Rng::new(7);
    let events: Vec<TicketEvent> = (0..n)
        .map(|i| {
            let p = place(c, &mut rng);
            discovered(i, &p, CATEGORIES[rng.below(CATEGORIES.len())])
        })
        .collect();
    let stream = bus.js.get_stream(&bus.stream).await.expect("stream");
    stream
        .create_consumer(pull::Config {
            durable_name: Some("bench-dispatched".into()),
            filter_subject: bus.subject("dispatched"),
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("dispatched consumer");

    let start = Instant::now();
    let publisher = {
        let bus = bus.clone();
        tokio::spawn(async move {
            for e in &events {
                testing::publish(&bus, e).await.expect("publish");
            }
            Instant::now()
        })
    };
    let deadline = start + Duration::from_secs(600);
    loop {
        let done = dispatched_count(bus, "bench-dispatched").await;
        if done >= n as u64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {done} of {n} dispatched after 600 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let routed = start.elapsed();
    let published = publisher.await.expect("publisher") - start;

    // Baseline: the same events, published the same way onto a subject nobody consumes.
    let start = Instant::now();
    for (i, e) in (0..n).map(|i| (i, discovered(n + i, &place(c, &mut rng), "other"))) {
        let msg = async_nats::jetstream::message::PublishMessage::build()
            .payload(e.encode_to_vec().into())
            .message_id(format!("baseline-{i}-{}", e.event_id));
        bus.js
            .send_publish(bus.subject("bench_baseline"), msg)
            .await
            .expect("publish")
            .await
            .expect("ack");
    }
    let raw = start.elapsed();

    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!("\n## End to end: ticket.discovered → ticket.dispatched (NATS + PostgreSQL)\n");
    println!(
        "| {:<52} | {:>10} | {:>8} |",
        "phase", "tickets/s", "seconds"
    );
    println!("|{:-<54}|{:->12}|{:->10}|", "", "", "");
    println!(
        "| {:<52} | {:>10.0} | {:>8.2} |",
        format!("routing: {n} discovered → {n} dispatched on the stream"),
        rate(routed),
        routed.as_secs_f64()
    );
    println!(
        "| {:<52} | {:>10.0} | {:>8.2} |",
        "  (publishing those events, during the run)",
        rate(published),
        published.as_secs_f64()
    );
    println!(
        "| {:<52} | {:>10.0} | {:>8.2} |",
        "baseline: raw JetStream publish + ack, same events",
        rate(raw),
        raw.as_secs_f64()
    );
    println!(
        "\nratio routing / raw publish: {:.3}",
        rate(routed) / rate(raw)
    );
}

#[tokio::main]
async fn main() {
    let n_decisions = env_num("GRIDLOOP_BENCH_DECISIONS", 5_000);
    let n_tickets = env_num("GRIDLOOP_BENCH_TICKETS", 2_000);
    let env = TestEnv::new().await;
    let cfg = env.config("routing");
    let stop = CancellationToken::new();
    // Build migrates the schema; the county goes in before the consumer starts.
    let app = App::build(cfg.clone(), stop.clone())
        .await
        .expect("routing starts");
    let mut db = PgConnection::connect(&env.database_url)
        .await
        .expect("bench db");
    sqlx::query("SET search_path TO routing")
        .execute(&mut db)
        .await
        .expect("search_path");
    let county = County::build();
    let t = Instant::now();
    let workers = seed::write(&mut db, &county).await.expect("seed");
    println!(
        "routing bench: {} grids ({} towns, {} villages, {} groups), {workers} workers, seeded in {:.1} s",
        county.grids.len(),
        county.towns.len(),
        county.villages.len(),
        county.groups.len(),
        t.elapsed().as_secs_f64()
    );

    decisions(&mut db, &county, n_decisions).await;

    let server = tokio::spawn(app.run());
    let bus = Bus::connect(&cfg).await.expect("nats");
    end_to_end(&bus, &county, n_tickets).await;
    println!(
        "(consumer db pool: {} connections; one decision per event, inside its inbox transaction)",
        cfg.db_max_connections
    );
    stop.cancel();
    let _ = server.await;
}
