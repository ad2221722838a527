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
}

impl RateLimitArgs {
    pub fn limits(&self) -> herald_server::RateLimits {
        herald_server::RateLimits {
            global_per_second: self.hook_rate_limit,
            per_trigger_per_second: self.hook_rate_limit_per_trigger,
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
    /// Address for the hook endpoints.
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
