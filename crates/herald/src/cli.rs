//! Command-line arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Herald treats Git changes as events and runs work in response.
#[derive(Debug, Parser)]
#[command(name = "herald", version, about)]
pub struct Cli {
    /// Log format.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "HERALD_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Cluster mode: run the operator against the current Kubernetes context.
    Run(RunArgs),
    /// Local mode: watch a folder of manifests, run actions as processes, keep runs in SQLite.
    Local(LocalArgs),
    /// Print the CustomResourceDefinitions as YAML.
    Crds,
    /// List runs, or show one with `runs show ID`.
    Runs(RunsArgs),
    /// Fire a trigger by hand (local mode) and wait for its runs to finish.
    Trigger(TriggerArgs),
    /// Check out one revision (the init container of a cluster-mode Job). Credentials are read
    /// from files, never from arguments.
    Clone(CloneArgs),
    /// List events from a running Herald's API: hook deliveries, detected revisions, run
    /// transitions, Flux's notifications.
    Events(EventsArgs),
    /// Wait until Flux reports a revision applied (for pipelines).
    #[command(after_help = WAIT_EXIT_CODES)]
    Wait(WaitArgs),
}

/// Hook rate limits; a delivery over one is answered 429 with `Retry-After`.
#[derive(Debug, Args)]
pub struct RateLimitArgs {
    /// Deliveries per second for all triggers together (bursts of twice that; default: no limit).
    #[arg(long, env = "HERALD_HOOK_RATE_LIMIT")]
    pub hook_rate_limit: Option<std::num::NonZeroU32>,
    /// Verified deliveries per second for one trigger (bursts of twice that; default: no limit).
    #[arg(long, env = "HERALD_HOOK_RATE_LIMIT_PER_TRIGGER")]
    pub hook_rate_limit_per_trigger: Option<std::num::NonZeroU32>,
    /// Deliveries in progress at once; more are answered 503 with `Retry-After`.
    #[arg(long, env = "HERALD_HOOK_MAX_IN_FLIGHT", default_value = "1024")]
    pub hook_max_in_flight: std::num::NonZeroUsize,
}

impl RateLimitArgs {
    pub fn limits(&self) -> herald_server::RateLimits {
        herald_server::RateLimits {
            global_per_second: self.hook_rate_limit,
            per_trigger_per_second: self.hook_rate_limit_per_trigger,
            max_in_flight: Some(self.hook_max_in_flight),
        }
    }
}

/// Where the embedded store lives.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The SQLite file with runs and their history.
    #[arg(long, env = "HERALD_DB", default_value = ".herald/herald.db")]
    pub db: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Herald's own namespace: the leader Lease, and ClusterGitRepo secrets that name none.
    #[arg(long, env = "HERALD_NAMESPACE", default_value = "herald")]
    pub namespace: String,
    /// Address for hooks and health probes.
    #[arg(long, env = "HERALD_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub rate_limits: RateLimitArgs,
    /// Serve `/metrics` on this address too (it is always on `--listen`).
    #[arg(long, env = "HERALD_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Image of the cloner init container (Herald's own image).
    #[arg(
        long,
        env = "HERALD_CLONER_IMAGE",
        default_value = "ghcr.io/herald-dev/herald:0.1.0"
    )]
    pub cloner_image: String,
    /// Service account of Jobs whose Action names none (one with no permissions).
    #[arg(
        long,
        env = "HERALD_ACTION_SERVICE_ACCOUNT",
        default_value = "herald-action"
    )]
    pub action_service_account: String,
    /// Finished Runs kept per trigger, succeeded and failed (older ones are deleted).
    #[arg(long, default_value_t = 10)]
    pub keep_succeeded: usize,
    #[arg(long, default_value_t = 10)]
    pub keep_failed: usize,
    /// This replica's name in the leader Lease (default: the host name).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// The store for the event log and the query API: a SQLite file or a `postgres://` URL
    /// (use PostgreSQL when several replicas serve the API).
    // A URL may hold a password: `--help` must not show the environment's value.
    #[arg(
        long,
        env = "HERALD_STORE",
        hide_env_values = true,
        default_value = "/var/lib/herald/herald.db"
    )]
    pub store: String,
    #[command(flatten)]
    pub api: ApiArgs,
    /// How long a leader's Lease lasts without renewal.
    #[arg(long, default_value = "15s", value_parser = humantime_duration)]
    pub lease_duration: std::time::Duration,
    /// How often the Lease is renewed or contended for.
    #[arg(long, default_value = "5s", value_parser = humantime_duration)]
    pub lease_renew: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct LocalArgs {
    /// The folder of manifests (multi-document YAML files allowed).
    pub dir: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
    /// The store as a URL instead of `--db`: `postgres://…`, `sqlite:PATH` or a path.
    #[arg(
        long = "store",
        env = "HERALD_STORE",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub store_url: Option<String>,
    #[command(flatten)]
    pub api: ApiArgs,
    /// Address for the hook endpoints and the query API.
    #[arg(long, env = "HERALD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Folder for temporary checkouts (default: `work` beside the database).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// How many runs may execute at once.
    #[arg(long, default_value_t = 4)]
    pub max_parallel: usize,
    #[command(flatten)]
    pub rate_limits: RateLimitArgs,
    /// How often the folder is checked for changed manifests.
    #[arg(long, default_value = "2s", value_parser = humantime_duration)]
    pub reload_every: std::time::Duration,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub show: Option<RunsCommand>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only runs in this namespace.
    #[arg(long, short)]
    pub namespace: Option<String>,
    /// Only runs of this trigger.
    #[arg(long, short)]
    pub trigger: Option<String>,
    /// Only runs in this phase (Pending, Running, Succeeded, Failed, Skipped).
    #[arg(long)]
    pub phase: Option<String>,
    /// At most this many runs, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    #[arg(long, short, value_enum, default_value = "table")]
    pub output: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Show one run with its history and output.
    Show {
        /// The run's number or name.
        run: String,
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, short, value_enum, default_value = "text")]
        output: ShowFormat,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ShowFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// The trigger as NAMESPACE/NAME (or NAME in the `default` namespace).
    pub trigger: String,
    /// The folder of manifests.
    #[arg(long, short, env = "HERALD_DIR", default_value = ".")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Fire only this source.
    #[arg(long)]
    pub source: Option<String>,
    /// Which kind, when a schedule and a webhook trigger share the name.
    #[arg(long, value_enum)]
    pub kind: Option<TriggerKindArg>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TriggerKindArg {
    Schedule,
    Webhook,
}

#[derive(Debug, Args)]
pub struct CloneArgs {
    /// The repository URL (holds no credentials).
    #[arg(long, env = "HERALD_CLONE_URL")]
    pub url: String,
    /// The commit to check out (40 hex characters).
    #[arg(long, env = "HERALD_CLONE_REVISION")]
    pub revision: String,
    /// The full ref to fetch it from (`refs/heads/main`), if known.
    #[arg(long = "ref", env = "HERALD_CLONE_REF")]
    pub git_ref: Option<String>,
    /// An empty or missing folder to check out into.
    #[arg(long, env = "HERALD_CLONE_DEST")]
    pub dest: PathBuf,
    /// How to authenticate; the secrets are files in `--credentials-dir`.
    #[arg(long, value_enum, env = "HERALD_CLONE_AUTH")]
    pub auth: Option<CloneAuth>,
    /// Folder with the credential files: `username`, `password`, `token`, `ssh-privatekey`,
    /// `known_hosts`, `ca.crt` (a mounted Secret).
    #[arg(
        long,
        env = "HERALD_CLONE_CREDENTIALS_DIR",
        default_value = "/var/run/herald/credentials"
    )]
    pub credentials_dir: PathBuf,
    /// User name for `ssh` (default `git`) and `token` (default `x-access-token`) auth.
    #[arg(long, env = "HERALD_CLONE_USERNAME")]
    pub username: Option<String>,
    /// OpenSSH `known_hosts` text; overrides the `known_hosts` file.
    #[arg(long, env = "HERALD_CLONE_KNOWN_HOSTS", hide_env_values = true)]
    pub known_hosts: Option<String>,
    /// Connect even when the SSH host key is not in `known_hosts`.
    #[arg(long, env = "HERALD_CLONE_ALLOW_UNKNOWN_HOST_KEYS")]
    pub allow_unknown_host_keys: bool,
    /// Skip TLS certificate verification (tests only).
    #[arg(long, env = "HERALD_CLONE_INSECURE_SKIP_TLS_VERIFY")]
    pub insecure_skip_tls_verify: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CloneAuth {
    Basic,
    Token,
    Ssh,
}

fn humantime_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| e.to_string())
}

/// The query API's options, shared by `herald run` and `herald local`.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// A file holding the secret of Flux's `generic-hmac` provider (a trailing newline is
    /// ignored). When set, `POST /api/v1/flux/events` requires `X-Signature`; when not, Flux's
    /// `generic` provider is accepted unsigned.
    #[arg(long, env = "HERALD_FLUX_SECRET_FILE", value_name = "PATH")]
    pub flux_secret_file: Option<PathBuf>,
    /// Events older than this are deleted (checked at start and hourly; 0 keeps them).
    #[arg(long, env = "HERALD_EVENTS_MAX_AGE", default_value = "30d", value_parser = humantime_duration)]
    pub events_max_age: std::time::Duration,
    /// Only the newest this many events are kept (0 keeps any number).
    #[arg(long, env = "HERALD_EVENTS_MAX_COUNT", default_value_t = 1_000_000)]
    pub events_max_count: u64,
}

/// Where a running Herald serves its API.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The Herald server's base URL.
    #[arg(long, env = "HERALD_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Only events about this revision (`main@sha1:<sha>`, `main/<sha>` and `<sha>` match).
    #[arg(long)]
    pub revision: Option<String>,
    /// Only events of this source.
    #[arg(long)]
    pub source: Option<String>,
    /// Only events of this trigger.
    #[arg(long)]
    pub trigger: Option<String>,
    /// Only events of this kind.
    #[arg(long, value_parser = ["hook.delivery", "revision.detected", "run.transition", "flux.event"])]
    pub kind: Option<String>,
    /// Only events about this object: `Kind/namespace/name` (or `Kind/name`).
    #[arg(long, value_name = "KIND/NS/NAME")]
    pub object: Option<String>,
    /// Only events about objects of this kind (`Kustomization`, `Run`, ...).
    #[arg(long, conflicts_with = "object")]
    pub involved_kind: Option<String>,
    /// Only events about objects in this namespace.
    #[arg(long, conflicts_with = "object")]
    pub involved_namespace: Option<String>,
    /// Only events about objects of this name.
    #[arg(long, conflicts_with = "object")]
    pub involved_name: Option<String>,
    /// Only events with this reason.
    #[arg(long)]
    pub reason: Option<String>,
    /// Only events of this severity (`info`, `error`).
    #[arg(long)]
    pub severity: Option<String>,
    /// Only events at or after this time: RFC 3339, or a duration ago (`1h`).
    #[arg(long)]
    pub since: Option<String>,
    /// Only events at or before this time: RFC 3339, or a duration ago (`10m`).
    #[arg(long)]
    pub until: Option<String>,
    /// Events per page, newest first (1 to 1000).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    /// Start after this event id (a page's `nextCursor`).
    #[arg(long)]
    pub cursor: Option<i64>,
    /// Follow the cursors and list every matching event.
    #[arg(long)]
    pub all: bool,
    #[arg(long, short, value_enum, default_value = "table")]
    pub output: OutputFormat,
}

/// The exit codes of `herald wait`, shown in its help.
pub const WAIT_EXIT_CODES: &str = "Exit codes:
  0  Flux reported the revision applied and healthy
  1  an error (the server cannot be reached, a bad answer, ...)
  2  bad usage
  3  Flux reported a failure (the reason and object are printed)
  4  timed out before Flux reported either";

#[derive(Debug, Args)]
pub struct WaitArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The revision: `main@sha1:<sha>`, `main/<sha>` or `<sha>`.
    #[arg(long)]
    pub revision: String,
    /// What to wait for.
    #[arg(long = "for", value_enum, default_value = "flux-ready")]
    pub condition: WaitFor,
    /// Give up after this long (exit 4).
    #[arg(long, default_value = "10m", value_parser = humantime_duration)]
    pub timeout: std::time::Duration,
    /// How often to ask.
    #[arg(long, default_value = "2s", value_parser = humantime_duration)]
    pub interval: std::time::Duration,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum WaitFor {
    /// Flux reported the revision reconciled and healthy.
    FluxReady,
}
