//! The event store under load: `cargo bench -p herald-store --bench events`.
//!
//! On SQLite (a temp file, with the production settings of `Store::open`: WAL,
//! `synchronous=FULL`) and on PostgreSQL (a throwaway cluster from `herald_testkit` with
//! `fsync=on`), it records a realistic mix of events through `record_event` from many
//! concurrent tasks (group commit), then times revision and object lookups. For comparison it
//! first records events one at a time from a single task: every call is then its own
//! transaction, which is what each event cost before group commit.
//!
//! Shrink a run with the environment: `HERALD_BENCH_EVENTS` (default 1,000,000),
//! `HERALD_BENCH_BASELINE` (events for the one-per-transaction baseline, default 10,000),
//! `HERALD_BENCH_QUERIES` (lookups of each kind, default 2,000), `HERALD_BENCH_WRITERS`
//! (concurrent writers, default 256), `HERALD_BENCH_BACKENDS` (`sqlite,postgres`).

mod measure;
mod workload;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use herald_store::Store;
use measure::{Ingest, Lookups};
use workload::Workload;

/// What to run, from the environment.
#[derive(Debug)]
struct Config {
    events: usize,
    baseline: usize,
    queries: usize,
    writers: usize,
    backends: Vec<String>,
}

impl Config {
    fn from_env() -> Self {
        let number = |name: &str, default: usize| match std::env::var(name) {
            Ok(v) => v
                .replace('_', "")
                .parse()
                .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
            Err(_) => default,
        };
        Self {
            events: number("HERALD_BENCH_EVENTS", 1_000_000).max(1),
            baseline: number("HERALD_BENCH_BASELINE", 10_000).max(1),
            queries: number("HERALD_BENCH_QUERIES", 2_000).max(1),
            writers: number("HERALD_BENCH_WRITERS", 256).max(1),
            backends: std::env::var("HERALD_BENCH_BACKENDS")
                .unwrap_or_else(|_| "sqlite,postgres".into())
                .split(',')
                .map(|b| b.trim().to_owned())
                .filter(|b| !b.is_empty())
                .collect(),
        }
    }
}

/// One backend's figures.
#[derive(Debug)]
struct Report {
    backend: &'static str,
    baseline: Ingest,
    ingest: Ingest,
    revisions: Lookups,
    objects: Lookups,
    size: u64,
}

fn main() {
    let config = Config::from_env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    eprintln!("{config:?}");
    let mut reports = Vec::new();
    for backend in &config.backends {
        let report = match backend.as_str() {
            "sqlite" => runtime.block_on(sqlite(&config)),
            "postgres" => runtime.block_on(postgres(&config)),
            other => panic!("unknown backend {other:?} in HERALD_BENCH_BACKENDS"),
        };
        reports.extend(report);
    }
    print_table(&config, &reports);
}

async fn sqlite(config: &Config) -> Option<Report> {
    let dir = tempfile::tempdir().expect("temp dir");
    let baseline_path = dir.path().join("baseline.db");
    let baseline = Store::open(&baseline_path).await.expect("open sqlite");
    let path = dir.path().join("herald.db");
    let store = Store::open(&path).await.expect("open sqlite");
    let mut report = run("SQLite", config, &baseline, &store).await;
    store.close().await;
    report.size = file_size(&path);
    Some(report)
}

async fn postgres(config: &Config) -> Option<Report> {
    let cluster = herald_testkit::postgres::durable_postgres()?;
    let baseline = Store::connect(&cluster.fresh_database().await)
        .await
        .expect("connect postgres");
    let url = cluster.fresh_database().await;
    let store = Store::connect(&url).await.expect("connect postgres");
    let mut report = run("PostgreSQL", config, &baseline, &store).await;
    store.close().await;
    report.size = postgres_size(&url).await;
    Some(report)
}

async fn run(backend: &'static str, config: &Config, baseline: &Store, store: &Store) -> Report {
    eprintln!(
        "{backend}: baseline, {} events from one task",
        config.baseline
    );
    let baseline_workload = Arc::new(Workload::new(config.baseline));
    let baseline = measure::ingest(baseline, baseline_workload, config.baseline, 1).await;
    eprintln!(
        "{backend}: ingest, {} events from {} tasks",
        config.events, config.writers
    );
    let workload = Arc::new(Workload::new(config.events));
    let ingest = measure::ingest(store, workload, config.events, config.writers).await;
    eprintln!("{backend}: {} lookups of each kind", config.queries);
    let revisions = measure::revisions_in(config.events);
    Report {
        backend,
        baseline,
        ingest,
        revisions: measure::revision_lookups(store, config.queries, revisions).await,
        objects: measure::object_lookups(store, config.queries).await,
        size: 0,
    }
}

/// The SQLite file with its WAL, in bytes.
fn file_size(path: &Path) -> u64 {
    let wal = path.with_extension("db-wal");
    [path, wal.as_path()]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// The database's size on disk (tables, indexes, TOAST), in bytes.
async fn postgres_size(url: &str) -> u64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(&mut conn)
        .await
        .expect("database size");
    u64::try_from(size).unwrap_or_default()
}

fn print_table(config: &Config, reports: &[Report]) {
    println!();
    println!(
        "Event store: {} events ({} concurrent writers), baseline {} events from one task, \
         {} lookups of each kind (limit 100)",
        config.events, config.writers, config.baseline, config.queries
    );
    println!();
    let header: Vec<&str> = reports.iter().map(|r| r.backend).collect();
    println!("| | {} |", header.join(" | "));
    println!("|---|{}", "---:|".repeat(reports.len()));
    let row = |name: &str, cell: &dyn Fn(&Report) -> String| {
        let cells: Vec<String> = reports.iter().map(cell).collect();
        println!("| {name} | {} |", cells.join(" | "));
    };
    row("ingest, group commit (events/s)", &|r| {
        format!("{:.0}", r.ingest.per_second())
    });
    row("ingest, one event per transaction (events/s)", &|r| {
        format!("{:.0}", r.baseline.per_second())
    });
    row("gain", &|r| {
        format!("{:.1}x", r.ingest.per_second() / r.baseline.per_second())
    });
    row("ingest time", &|r| format!("{:.1?}", r.ingest.elapsed));
    row("duplicate deliveries answered", &|r| {
        r.ingest.duplicates.to_string()
    });
    row("revision lookup p50 / p99 / max (ms)", &|r| {
        ms3(&r.revisions)
    });
    row("object lookup p50 / p99 / max (ms)", &|r| ms3(&r.objects));
    row("events per lookup (mean)", &|r| {
        format!("{:.0} / {:.0}", r.revisions.mean_rows, r.objects.mean_rows)
    });
    row("store size (MiB)", &|r| {
        format!("{:.0}", r.size as f64 / (1024.0 * 1024.0))
    });
}

fn ms3(l: &Lookups) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!("{:.2} / {:.2} / {:.2}", ms(l.p50), ms(l.p99), ms(l.max))
}
