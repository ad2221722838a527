//! Local mode, Herald's embedded default: definitions from a folder of manifests, actions as
//! processes in fresh checkouts, runs in an embedded SQLite file. No cluster needed.

mod admission;
mod board;
mod catalog;
mod check_times;
mod engine;
mod executor;
mod graph_run;
mod hook_registration;
mod hooks;
mod image_updates;
mod manifests;
mod notifications;
mod reconcile;
mod report;
mod resolve;
mod scheduler;
mod watcher;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use catalog::{Catalog, Key};
pub use engine::{Engine, EngineConfig, FireError, FireRequest, RerunError, SourceOutcome};
pub use executor::{OUTPUT_LIMIT, STOP_GRACE};
pub use herald_core::Firing;
pub use image_updates::{LocalEnv, LocalImageUpdates};
pub use manifests::{DEFAULT_NAMESPACE, LoadError, Loaded, load_dir};
pub use watcher::load_and_report;

use herald_server::{
    ApiConfig, Health, RateLimits, ReconcileAccess, Retention, Secret, ServerConfig,
};
use herald_store::Store;
use tokio::sync::watch;

/// Settings of `herald local`.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// The manifest folder.
    pub dir: PathBuf,
    /// The SQLite file (unless `store_url` is set).
    pub db: PathBuf,
    /// The store as a URL (`postgres://…`, `sqlite:PATH` or a path), used instead of `db`.
    pub store_url: Option<String>,
    /// Where temporary checkouts are made.
    pub work_root: PathBuf,
    /// Address of the hook endpoints.
    pub listen: SocketAddr,
    pub max_parallel: usize,
    /// How often the folder is checked for changes.
    pub reload_every: Duration,
    /// Hook rate limits.
    pub rate_limits: RateLimits,
    /// The secret Flux's `generic-hmac` provider signs its events with; `None` accepts
    /// unsigned events (`generic`).
    pub flux_secret: Option<Secret>,
    /// Who may ask for a reconcile over HTTP.
    pub reconcile_access: ReconcileAccess,
    /// How long and how many events are kept.
    pub retention: Retention,
    /// How many ref listings may run at once, and how long each may take.
    pub git_concurrency: usize,
    pub git_timeout: Duration,
    /// Where people reach this Herald: notifications link there (default: `http://<listen>`).
    pub external_url: Option<String>,
    /// Serve the web dashboard at `/ui/`.
    pub ui: bool,
}

impl Default for LocalConfig {
    /// The `herald local` defaults for the current folder.
    fn default() -> Self {
        Self {
            dir: PathBuf::from("."),
            db: PathBuf::from(".herald/herald.db"),
            store_url: None,
            work_root: PathBuf::from(".herald/work"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_parallel: 4,
            reload_every: Duration::from_secs(2),
            rate_limits: RateLimits::default(),
            flux_secret: None,
            reconcile_access: ReconcileAccess::Open,
            retention: Retention::default(),
            git_concurrency: 4,
            git_timeout: Duration::from_secs(30),
            external_url: None,
            ui: true,
        }
    }
}

/// Why local mode could not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("cannot read the manifest folder {dir}: {source}")]
    Manifests {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the store: {0}")]
    Store(#[from] herald_store::StoreError),
    #[error("cannot build the registry client: {0}")]
    Http(reqwest::Error),
    #[error("cannot build the notification client: {0}")]
    Notifier(String),
    #[error("cannot serve hooks on {listen}: {source}")]
    Serve {
        listen: SocketAddr,
        source: std::io::Error,
    },
}

/// Run local mode until `shutdown` resolves: watch the folder, run schedules, prune old events,
/// serve hooks and the query API.
pub async fn run(
    config: LocalConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), LocalError> {
    let (catalog, _) = load_and_report(&config.dir).map_err(|source| LocalError::Manifests {
        dir: config.dir.clone(),
        source,
    })?;
    let store = match &config.store_url {
        Some(url) => Store::connect(url).await?,
        None => Store::open(&config.db).await?,
    };
    let (sender, receiver) = watch::channel(Arc::new(catalog));
    let engine_config = engine_config(&config);
    let metrics = engine_config.metrics.clone();
    let engine = Engine::new(store.clone(), receiver.clone(), engine_config);
    // One client for everything Herald posts: webhooks, commit statuses, Git hosts' APIs.
    let poster =
        herald_notify::webhook::Poster::new().map_err(|e| LocalError::Notifier(e.to_string()))?;
    let image_updates = image_updates(&config, &store, &receiver, &metrics, &poster)?;
    // Local mode does its own scheduling: always the leader.
    metrics.leader.set(1);
    store.observe_writes(Arc::new(metrics.clone()));
    let api = ApiConfig {
        store: store.clone(),
        flux_secret: config.flux_secret.clone(),
        reconciler: Some(Arc::new(engine.clone())),
        reconcile_access: config.reconcile_access.clone(),
        image_updates: Some(Arc::new(image_updates.clone())),
    };
    let resumed = engine.recover().await?;
    if resumed > 0 {
        tracing::info!(resumed, "resuming runs stored before the last stop");
    }
    let health = Health::default();
    let watch = watcher::watch_dir(config.dir.clone(), config.reload_every, sender);
    let watcher = tokio::spawn(health.clone().guard("manifest watcher", watch));
    let notify = notifications(&config, &store, &receiver, &metrics, &poster);
    let notifications = tokio::spawn(health.clone().guard("notifications", notify.run()));
    let register = hook_registration::run(
        LocalEnv {
            catalog: receiver.clone(),
            store: store.clone(),
        },
        poster,
    );
    let registrations = tokio::spawn(health.clone().guard("hook registration", register));
    let schedule = scheduler::run_schedules(engine.clone(), receiver);
    let schedules = tokio::spawn(health.clone().guard("scheduler", schedule));
    let updates = tokio::spawn(health.clone().guard("image updates", image_updates.run()));
    let board = board::LocalBoard {
        engine: engine.clone(),
    };
    let closing = herald_server::Closing::default();
    let pages =
        (config.ui).then(|| herald_ui::router(store.clone(), Arc::new(board), closing.clone()));
    let prune = herald_server::prune_events_forever(store, config.retention);
    let retention = tokio::spawn(health.clone().guard("event retention", prune));
    health.set_ready();
    let server = ServerConfig {
        listen: config.listen,
        health,
        rate_limits: config.rate_limits,
        api: Some(api),
        metrics,
        pages,
        closing,
        ..ServerConfig::default()
    };
    let served = herald_server::serve(Arc::new(engine), &server, shutdown).await;
    watcher.abort();
    schedules.abort();
    retention.abort();
    updates.abort();
    notifications.abort();
    registrations.abort();
    served.map_err(|source| LocalError::Serve {
        listen: config.listen,
        source,
    })
}

/// Image automation over the folder's catalog: write-back clones are kept in `clones` beside
/// the work folder, so a restart reuses them.
fn image_updates(
    config: &LocalConfig,
    store: &Store,
    catalog: &watch::Receiver<Arc<Catalog>>,
    metrics: &herald_server::Metrics,
    poster: &herald_notify::webhook::Poster,
) -> Result<LocalImageUpdates, LocalError> {
    let env = LocalEnv {
        catalog: catalog.clone(),
        store: store.clone(),
    };
    let registry = herald_registry::RegistryClient::new().map_err(LocalError::Http)?;
    let notifier = herald_automation::notify::Notifier::with_poster(poster.clone());
    let clones = config.work_root.join("clones");
    let writers = herald_automation::writer::Writers::new(clones, Default::default());
    let updater = herald_automation::Updater::new(
        Arc::new(env),
        registry,
        writers,
        notifier,
        config.git_timeout,
        metrics.clone(),
    );
    Ok(LocalImageUpdates::new(updater, catalog.clone()))
}

/// The notifier over the folder's Notifiers, linking to this process's own address unless an
/// external URL is set.
fn notifications(
    config: &LocalConfig,
    store: &Store,
    catalog: &watch::Receiver<Arc<Catalog>>,
    metrics: &herald_server::Metrics,
    poster: &herald_notify::webhook::Poster,
) -> herald_notify::Dispatcher<LocalEnv> {
    let env = LocalEnv {
        catalog: catalog.clone(),
        store: store.clone(),
    };
    let external_url = config
        .external_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    let settings = herald_notify::Config {
        external_url: Some(external_url),
        ..herald_notify::Config::default()
    };
    herald_notify::Dispatcher::new(
        Arc::new(env),
        store.clone(),
        poster.clone(),
        metrics.clone(),
        settings,
    )
}

/// The engine settings `herald local` and `herald trigger` share.
pub fn engine_config(config: &LocalConfig) -> EngineConfig {
    EngineConfig {
        work_root: config.work_root.clone(),
        max_parallel: config.max_parallel,
        metrics: herald_server::Metrics::default(),
        git_concurrency: config.git_concurrency,
        git_timeout: config.git_timeout,
    }
}

pub use herald_engine::occasion_id as unique_id;
