//! Command-line arguments.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use herald_api::TriggerKind;
use herald_store::{EventKind, EventQuery};
use jiff::{SignedDuration, Timestamp};
use reqwest::Url;

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
    /// Ask a running Herald to reconcile a trigger now, as `flux reconcile` does: a
    /// ScheduleTrigger checks its sources whatever its schedule, a WebhookTrigger checks that
    /// it can verify its senders.
    #[command(after_help = RECONCILE_EXIT_CODES)]
    Reconcile(ReconcileArgs),
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

/// How Herald talks to Git servers, in both modes.
#[derive(Debug, Args)]
pub struct GitArgs {
    /// Ref listings (source checks) that may run at once; more wait for a turn, so a slow
    /// Git server never piles up threads.
    #[arg(long, env = "HERALD_GIT_CONCURRENCY", default_value = "4",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub git_concurrency: u16,
    /// How long one listing may take before its check fails (and only its own).
    #[arg(long, env = "HERALD_GIT_TIMEOUT", default_value = "30s", value_parser = positive_duration)]
    pub git_timeout: Duration,
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
    #[command(flatten)]
    pub git: GitArgs,
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
    #[arg(long, default_value = "15s", value_parser = positive_duration)]
    pub lease_duration: Duration,
    /// How often the Lease is renewed or contended for.
    #[arg(long, default_value = "5s", value_parser = positive_duration)]
    pub lease_renew: Duration,
    /// Also keep Deployments annotated the way gitops-operator reads them
    /// (`gitops.operator.*`) in step with their application; needs the right to watch
    /// Deployments (the chart's `gitopsOperatorAnnotations`).
    #[arg(long)]
    pub gitops_operator_annotations: bool,
    /// How often the leader looks at those Deployments.
    #[arg(long, default_value = "5m", value_parser = positive_duration)]
    pub gitops_operator_interval: Duration,
    /// Serve the read-only web dashboard at `/ui/` on `--listen` (it reads `--store`). It has
    /// no login of its own: put it behind an authenticating proxy before exposing it.
    #[arg(long, env = "HERALD_UI")]
    pub ui: bool,
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
    #[command(flatten)]
    pub git: GitArgs,
    /// How often the folder is checked for changed manifests.
    #[arg(long, default_value = "2s", value_parser = positive_duration)]
    pub reload_every: Duration,
    /// Do not serve the web dashboard at `/ui/` (served by default, read-only).
    #[arg(long, env = "HERALD_NO_UI")]
    pub no_ui: bool,
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
    /// Only runs in this phase.
    #[arg(long, value_parser = RUN_PHASES)]
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
    /// Make a new run of a finished run (local mode) that keeps the result and outputs of the
    /// steps before STEP that succeeded and runs STEP, what needs it and `finally` again; wait
    /// for it and show it.
    Rerun {
        /// The run's number or name.
        run: String,
        /// The first step to run again.
        #[arg(long, value_name = "STEP", value_parser = non_empty)]
        from: String,
        /// The folder of manifests (the action and its source are read from there).
        #[arg(long, short, env = "HERALD_DIR", default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
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
    #[arg(long, env = "HERALD_CLONE_REVISION", value_parser = commit_id)]
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

/// The query API's options, shared by `herald run` and `herald local`.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// A file holding the secret of Flux's `generic-hmac` provider (a trailing newline is
    /// ignored). When set, `POST /api/v1/flux/events` requires `X-Signature`; when not, Flux's
    /// `generic` provider is accepted unsigned.
    #[arg(long, env = "HERALD_FLUX_SECRET_FILE", value_name = "PATH")]
    pub flux_secret_file: Option<PathBuf>,
    /// A file holding the API token (a trailing newline is ignored). When set,
    /// `POST /api/v1/reconcile/...` requires `Authorization: Bearer <token>`; when not, it is
    /// served only on a loopback `--listen` address (403 on any other).
    #[arg(long, env = "HERALD_API_TOKEN_FILE", value_name = "PATH")]
    pub api_token_file: Option<PathBuf>,
    /// Events older than this are deleted (checked at start and hourly; 0 keeps them).
    #[arg(long, env = "HERALD_EVENTS_MAX_AGE", default_value = "30d", value_parser = duration)]
    pub events_max_age: Duration,
    /// Only the newest this many events are kept (0 keeps any number).
    #[arg(long, env = "HERALD_EVENTS_MAX_COUNT", default_value_t = 1_000_000)]
    pub events_max_count: u64,
    /// Where people reach this Herald (`https://herald.example.com`): notifications link
    /// there. Default in local mode: the `--listen` address; in cluster mode: no links.
    #[arg(long, env = "HERALD_EXTERNAL_URL", value_parser = server_url, value_name = "URL")]
    pub external_url: Option<Url>,
}

/// Where a running Herald serves its API.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The Herald server's base URL.
    #[arg(
        long,
        env = "HERALD_SERVER",
        default_value = "http://127.0.0.1:8080",
        value_parser = server_url
    )]
    pub server: Url,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Only events about this revision (`main@sha1:<sha>`, `main/<sha>` and `<sha>` match).
    #[arg(long, value_parser = revision)]
    pub revision: Option<String>,
    /// Only events of this source.
    #[arg(long, value_parser = non_empty)]
    pub source: Option<String>,
    /// Only events of this trigger.
    #[arg(long, value_parser = non_empty)]
    pub trigger: Option<String>,
    /// Only events of this kind.
    #[arg(long, value_parser = PossibleValuesParser::new(EventKind::ALL.map(EventKind::as_str)))]
    pub kind: Option<String>,
    /// Only events about this object: `Kind/namespace/name` (or `Kind/name`).
    #[arg(long, value_name = "KIND/NS/NAME")]
    pub object: Option<ObjectRef>,
    /// Only events about this run: its own transitions and every step's, kept after the run
    /// is pruned (the same as `--object Run/NAME`).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["object", "involved_kind", "involved_name"], value_parser = non_empty)]
    pub run: Option<String>,
    /// Only events about objects of this kind (`Kustomization`, `Run`, ...).
    #[arg(long, conflicts_with = "object", value_parser = non_empty)]
    pub involved_kind: Option<String>,
    /// Only events about objects in this namespace.
    #[arg(long, conflicts_with = "object", value_parser = non_empty)]
    pub involved_namespace: Option<String>,
    /// Only events about objects of this name.
    #[arg(long, conflicts_with = "object", value_parser = non_empty)]
    pub involved_name: Option<String>,
    /// Only events with this reason.
    #[arg(long, value_parser = non_empty)]
    pub reason: Option<String>,
    /// Only events of this severity (`info`, `error`).
    #[arg(long, value_parser = non_empty)]
    pub severity: Option<String>,
    /// Only events at or after this time: RFC 3339, or a duration ago (`1h`).
    #[arg(long, value_parser = time_or_ago)]
    pub since: Option<Timestamp>,
    /// Only events at or before this time: RFC 3339, or a duration ago (`10m`).
    #[arg(long, value_parser = time_or_ago)]
    pub until: Option<Timestamp>,
    /// Events per page, newest first (1 to 1000). When not given, the request carries no limit
    /// and the server's default page size applies (100).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(EventQuery::MAX_LIMIT)))]
    pub limit: Option<u32>,
    /// Start after this event id (a page's `nextCursor`).
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
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
    #[arg(long, value_parser = revision)]
    pub revision: String,
    /// What to wait for.
    #[arg(long = "for", value_enum, default_value = "flux-ready")]
    pub condition: WaitFor,
    /// Give up after this long (exit 4).
    #[arg(long, default_value = "10m", value_parser = positive_duration)]
    pub timeout: Duration,
    /// How often to ask.
    #[arg(long, default_value = "2s", value_parser = positive_duration)]
    pub interval: Duration,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum WaitFor {
    /// Flux reported the revision reconciled and healthy.
    FluxReady,
}

/// The exit codes of `herald reconcile`, shown in its help.
pub const RECONCILE_EXIT_CODES: &str = "Exit codes:
  0  the request was accepted (the check follows)
  1  an error (the server cannot be reached, no such trigger, the trigger is suspended, ...)
  2  bad usage";

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The trigger: `ScheduleTrigger/NAME` (or `strig/NAME`), `WebhookTrigger/NAME` (or
    /// `wtrig/NAME`).
    #[arg(value_name = "KIND/NAME", value_parser = trigger_name)]
    pub trigger: TriggerName,
    /// The trigger's namespace.
    #[arg(long, short, default_value = "default", value_parser = non_empty)]
    pub namespace: String,
    /// A file holding the server's API token (its `--api-token-file`), sent as a bearer token.
    #[arg(long, env = "HERALD_API_TOKEN_FILE", value_name = "PATH")]
    pub token_file: Option<PathBuf>,
}

/// A trigger named by kind and name, as `herald reconcile` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerName {
    pub kind: TriggerKind,
    pub name: String,
}

/// The phases `herald runs --phase` takes (the spelling of `herald_api::RunPhase`).
const RUN_PHASES: [&str; 7] = [
    "Pending",
    "Running",
    "Succeeded",
    "Failed",
    "TimedOut",
    "Skipped",
    "Cancelled",
];

/// The object an event is about, from `--object`: `Kind/namespace/name`, or `Kind/name` for
/// that name in any namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl FromStr for ObjectRef {
    type Err = InvalidValue;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(InvalidValue::Object);
        }
        match parts.as_slice() {
            [kind, namespace, name] => Ok(Self {
                kind: (*kind).to_owned(),
                namespace: Some((*namespace).to_owned()),
                name: (*name).to_owned(),
            }),
            [kind, name] => Ok(Self {
                kind: (*kind).to_owned(),
                namespace: None,
                name: (*name).to_owned(),
            }),
            _ => Err(InvalidValue::Object),
        }
    }
}

type UrlError = <Url as FromStr>::Err;

/// Why an argument's value is refused. The value parsers below return it, so clap prints
/// `invalid value '…' for '--flag <FLAG>': <this>` and exits 2, like any other usage error:
/// bad usage is caught while the arguments are read, never later as a runtime error (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum InvalidValue {
    #[error("expected an RFC 3339 time (2026-11-23T10:00:00Z) or a duration such as 1h")]
    Time,
    #[error("that reaches too far back; expected an RFC 3339 time or a duration such as 1h")]
    TooFarBack,
    #[error("expected Kind/namespace/name or Kind/name")]
    Object,
    // The cause is part of the message: clap prints only `Display`.
    #[error("expected a duration such as 30s, 5m or 1h30m ({0})")]
    Duration(humantime::DurationError),
    #[error("expected a duration above zero, such as 2s")]
    ZeroDuration,
    #[error("expected a revision: main@sha1:<sha>, main/<sha> or <sha>")]
    Revision,
    #[error("expected a non-empty value")]
    Empty,
    #[error("expected a full commit id: 40 hex characters")]
    CommitId,
    #[error("expected an http:// or https:// URL such as http://127.0.0.1:8080 ({0})")]
    Url(UrlError),
    #[error("expected an http:// or https:// URL such as http://127.0.0.1:8080")]
    NotHttp,
    #[error(
        "expected KIND/NAME with KIND ScheduleTrigger (strig) or WebhookTrigger (wtrig), \
         such as strig/nightly"
    )]
    Trigger,
}

/// A duration such as `30s`, `5m` or `1h30m`; zero is allowed (it turns a limit off).
fn duration(text: &str) -> Result<Duration, InvalidValue> {
    humantime::parse_duration(text).map_err(InvalidValue::Duration)
}

/// A duration above zero: a zero interval would spin (or make tokio's `interval` panic).
fn positive_duration(text: &str) -> Result<Duration, InvalidValue> {
    match duration(text)? {
        d if d.is_zero() => Err(InvalidValue::ZeroDuration),
        d => Ok(d),
    }
}

/// `--since` / `--until`: a relative time is taken back from the moment the arguments are read.
fn time_or_ago(text: &str) -> Result<Timestamp, InvalidValue> {
    time_at(text, Timestamp::now())
}

/// An RFC 3339 time as given, or `now` minus a duration (`1h`, `30m`).
fn time_at(text: &str, now: Timestamp) -> Result<Timestamp, InvalidValue> {
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    let ago = humantime::parse_duration(text).map_err(|_| InvalidValue::Time)?;
    let ago = SignedDuration::try_from(ago).map_err(|_| InvalidValue::TooFarBack)?;
    now.checked_sub(ago).map_err(|_| InvalidValue::TooFarBack)
}

/// A revision in any of its forms; an empty one (an unset `$GIT_SHA`) is a mistake, not a query.
fn revision(text: &str) -> Result<String, InvalidValue> {
    if text.trim().is_empty() {
        return Err(InvalidValue::Revision);
    }
    Ok(text.to_owned())
}

/// A filter's text: filtering on an empty string only ever comes from an unset variable.
fn non_empty(text: &str) -> Result<String, InvalidValue> {
    if text.trim().is_empty() {
        return Err(InvalidValue::Empty);
    }
    Ok(text.to_owned())
}

/// `herald clone --revision`: checkout takes nothing but a full commit id.
fn commit_id(text: &str) -> Result<String, InvalidValue> {
    if !herald_git::is_full_commit_id(text) {
        return Err(InvalidValue::CommitId);
    }
    Ok(text.to_owned())
}

/// `herald reconcile`'s `KIND/NAME`: the kind by its name, plural or short name, in any case
/// (as kubectl takes them).
fn trigger_name(text: &str) -> Result<TriggerName, InvalidValue> {
    let (kind, name) = text.split_once('/').ok_or(InvalidValue::Trigger)?;
    let kind = match kind.to_ascii_lowercase().as_str() {
        "scheduletrigger" | "scheduletriggers" | "strig" => TriggerKind::ScheduleTrigger,
        "webhooktrigger" | "webhooktriggers" | "wtrig" => TriggerKind::WebhookTrigger,
        _ => return Err(InvalidValue::Trigger),
    };
    if name.is_empty() || name.contains('/') {
        return Err(InvalidValue::Trigger);
    }
    Ok(TriggerName {
        kind,
        name: name.to_owned(),
    })
}

/// `--server`: an http(s) URL that can take the API's path below it.
fn server_url(text: &str) -> Result<Url, InvalidValue> {
    let url = Url::parse(text).map_err(InvalidValue::Url)?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(InvalidValue::NotHttp);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn arguments_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_cluster_dashboard_is_off_unless_asked_for() {
        let ui = |args: &[&str]| match Cli::try_parse_from(args).expect("parses").command {
            Command::Run(run) => run.ui,
            _ => unreachable!("herald run"),
        };
        assert!(!ui(&["herald", "run"]));
        assert!(ui(&["herald", "run", "--ui"]));
    }

    #[test]
    fn objects_take_two_or_three_parts() {
        let three: ObjectRef = "Kustomization/flux-system/apps".parse().expect("three");
        assert_eq!(
            three,
            ObjectRef {
                kind: "Kustomization".into(),
                namespace: Some("flux-system".into()),
                name: "apps".into(),
            }
        );
        let two: ObjectRef = "HelmRelease/web".parse().expect("two");
        assert_eq!((two.namespace, two.name.as_str()), (None, "web"));
        for bad in ["apps", "a/b/c/d", "/ns/name", "Kind//name", "Kind/", ""] {
            assert!(bad.parse::<ObjectRef>().is_err(), "{bad}");
        }
    }

    #[test]
    fn times_are_rfc3339_or_ago() {
        let now: Timestamp = "2026-11-23T12:00:00Z".parse().expect("time");
        let at = |text| time_at(text, now).map(|t| t.to_string());
        assert_eq!(at("1h").expect("ago"), "2026-11-23T11:00:00Z");
        assert_eq!(
            at("2026-11-23T10:00:00+01:00").expect("rfc 3339"),
            "2026-11-23T09:00:00Z"
        );
        assert!(matches!(at("noon"), Err(InvalidValue::Time)));
        assert!(matches!(at("100000y"), Err(InvalidValue::TooFarBack)));
        assert!(InvalidValue::Time.to_string().contains("RFC 3339"));
    }

    #[test]
    fn durations_say_their_form() {
        assert_eq!(
            positive_duration("1h30m").expect("valid"),
            Duration::from_secs(5400)
        );
        assert_eq!(
            duration("0s").expect("zero turns a limit off"),
            Duration::ZERO
        );
        assert!(matches!(
            positive_duration("0s"),
            Err(InvalidValue::ZeroDuration)
        ));
        let err = duration("soon").expect_err("bad");
        assert!(err.to_string().contains("such as 30s"), "{err}");
    }

    #[test]
    fn servers_must_be_http_urls() {
        assert!(server_url("https://herald.example/prefix").is_ok());
        for bad in ["127.0.0.1:8080", "ftp://x", "not a url", "mailto:a@b", ""] {
            assert!(server_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn triggers_are_named_by_kind_or_short_name() {
        let named = |text| trigger_name(text).map(|t| (t.kind, t.name));
        let schedule = (TriggerKind::ScheduleTrigger, "nightly".to_owned());
        assert_eq!(named("ScheduleTrigger/nightly").expect("kind"), schedule);
        assert_eq!(named("strig/nightly").expect("short name"), schedule);
        assert_eq!(
            named("wtrig/push").expect("webhook").0,
            TriggerKind::WebhookTrigger
        );
        for bad in ["nightly", "strig/", "GitRepo/app", "strig/a/b", "/x"] {
            assert!(trigger_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_texts_and_short_commits_are_refused() {
        assert!(revision(" ").is_err() && non_empty("").is_err());
        assert_eq!(revision("main/abc").expect("valid"), "main/abc");
        assert!(commit_id("abc").is_err());
        assert!(commit_id(&"a".repeat(40)).is_ok());
    }

    /// `--phase` offers exactly the spellings `RunPhase` reads.
    #[test]
    fn run_phases_parse_as_run_phases() {
        for phase in RUN_PHASES {
            let parsed: Result<herald_api::RunPhase, _> =
                serde_json::from_value(serde_json::Value::String(phase.to_owned()));
            assert!(parsed.is_ok(), "{phase}");
        }
    }

    /// The numbers in `--limit`'s help are the API's: a doc comment cannot name the constants.
    #[test]
    fn limit_help_states_the_api_page_sizes() {
        let command = Cli::command();
        let events = command.find_subcommand("events").expect("events");
        let limit = events
            .get_arguments()
            .find(|a| a.get_id() == "limit")
            .expect("--limit");
        let help = limit
            .get_long_help()
            .or(limit.get_help())
            .expect("help")
            .to_string();
        for number in [EventQuery::DEFAULT_LIMIT, EventQuery::MAX_LIMIT] {
            assert!(help.contains(&format!("{number})")), "{number} in {help}");
        }
        assert!(
            limit.get_default_values().is_empty(),
            "the server's default applies"
        );
    }
}
