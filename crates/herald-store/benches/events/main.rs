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
//!
//! Then it times delivery lookups (`Store::delivery_event`, asked before firing every hook
//! delivery) against the query on an sqlx pool that answered them before and, on SQLite, a
//! reader thread fed by a queue, in the same run: `HERALD_BENCH_LOOKUPS` (default 200,000,
//! half of them stored ids) from 64 tasks, a tenth of them from one task for latency, and
//! `HERALD_BENCH_HOOKS` new deliveries (default 50,000) each looked up and then recorded,
//! against recording alone; with the CPU time of the whole process per lookup or delivery.

mod deliveries;
mod measure;
mod workload;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use deliveries::{Deliveries, Figures, Rate};
use herald_store::Store;
use measure::{Ingest, Lookups};
use sqlx::AnyPool;
use workload::Workload;

/// What to run, from the environment.
#[derive(Debug)]
struct Config {
    events: usize,
    baseline: usize,
    queries: usize,
    writers: usize,
    lookups: usize,
    hooks: usize,
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
            lookups: number("HERALD_BENCH_LOOKUPS", 200_000).max(20),
            hooks: number("HERALD_BENCH_HOOKS", 50_000).max(1),
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
    deliveries: Deliveries,
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
    let others = (sqlite_pool(&path).await, Some(path.as_path()));
    let mut report = run("SQLite", config, &baseline, &store, others).await;
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
    let others = (
        AnyPool::connect(&url).await.expect("connect postgres"),
        None,
    );
    let mut report = run("PostgreSQL", config, &baseline, &store, others).await;
    store.close().await;
    report.size = postgres_size(&url).await;
    Some(report)
}

/// An sqlx pool of the file at `path` as `Store::open` makes it: 8 connections, the same
/// settings.
async fn sqlite_pool(path: &Path) -> AnyPool {
    use sqlx::Executor;
    sqlx::any::AnyPoolOptions::new()
        .max_connections(8)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
                     PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;",
                )
                .await?;
                Ok(())
            })
        })
        .connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("sqlx pool")
}

/// Runs every measurement on `store`; `others` are what delivery lookups are compared with: an
/// sqlx pool of the same database, and the SQLite file for a queued reader.
async fn run(
    backend: &'static str,
    config: &Config,
    baseline: &Store,
    store: &Store,
    others: (AnyPool, Option<&Path>),
) -> Report {
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
    let revisions = measure::revision_lookups(store, config.queries, revisions).await;
    let objects = measure::object_lookups(store, config.queries).await;
    eprintln!(
        "{backend}: {} delivery lookups, {} deliveries looked up and recorded",
        config.lookups, config.hooks
    );
    let keys = deliveries::keys(config.lookups, config.events);
    let (pool, path) = others;
    let deliveries = deliveries::run(store, pool, path, &keys, config.hooks).await;
    Report {
        backend,
        baseline,
        ingest,
        revisions,
        objects,
        deliveries,
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
    // Delivery lookups: the sqlx pool (before), a queued reader thread, the store (now).
    let paths = |d: &Deliveries, cell: &dyn Fn(&Figures) -> String| {
        let queued = d.queued.as_ref().map_or_else(|| "-".to_owned(), cell);
        format!("{} / {queued} / {}", cell(&d.sqlx), cell(&d.store))
    };
    row(
        "delivery lookups/s, 64 tasks: sqlx / queued / store",
        &|r| paths(&r.deliveries, &|f| per_second(&f.lookups)),
    );
    row("CPU µs per lookup: sqlx / queued / store", &|r| {
        paths(&r.deliveries, &|f| cpu_us(&f.lookups))
    });
    row("lookup p50, one task (µs): sqlx / queued / store", &|r| {
        paths(&r.deliveries, &|f| us(f.p50))
    });
    row("lookup p99, one task (µs): sqlx / queued / store", &|r| {
        paths(&r.deliveries, &|f| us(f.p99))
    });
    let alone = |d: &Deliveries, cell: &dyn Fn(&Rate) -> String| {
        format!("{} / {}", cell(&d.record_only[0]), cell(&d.record_only[1]))
    };
    row("deliveries/s, recorded alone (first / last)", &|r| {
        alone(&r.deliveries, &per_second)
    });
    row(
        "deliveries/s, looked up + recorded: sqlx / queued / store",
        &|r| paths(&r.deliveries, &|f| per_second(&f.with_record)),
    );
    row(
        "CPU µs per delivery, recorded alone (first / last)",
        &|r| alone(&r.deliveries, &cpu_us),
    );
    row(
        "CPU µs per delivery, looked up + recorded: sqlx / queued / store",
        &|r| paths(&r.deliveries, &|f| cpu_us(&f.with_record)),
    );
    row("store size (MiB)", &|r| {
        format!("{:.0}", r.size as f64 / (1024.0 * 1024.0))
    });
}

fn per_second(r: &Rate) -> String {
    format!("{:.0}", r.per_second)
}

fn cpu_us(r: &Rate) -> String {
    r.cpu.map_or_else(|| "-".to_owned(), us)
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn ms3(l: &Lookups) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!("{:.2} / {:.2} / {:.2}", ms(l.p50), ms(l.p99), ms(l.max))
}
