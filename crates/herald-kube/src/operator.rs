//! Cluster mode: every controller, leader election and the hook server, until shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use herald_api::{
    Action as HeraldAction, ClusterAction, ClusterGitRepo, GitRepo, ImageUpdate, Notifier, Run,
    ScheduleTrigger, WebhookTrigger,
};
use herald_server::{ImageUpdates, Reconcile, ServerConfig};
use k8s_openapi::api::batch::v1::Job;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, Resource};

use crate::caches::{self, Caches, SecretCache};
use crate::context::{Context, Leadership, OperatorConfig};
use crate::error::Error;
use crate::gitops_compat::GitopsCompat;
use crate::hooks::ClusterHooks;
use crate::image_update_controller::{self, ClusterEnv, ImageContext};
use crate::image_updates_api::ClusterImageUpdates;
use crate::reconcile::ClusterReconciler;
use crate::{
    lease, notifier_controller, resource_controller, run_controller, source_controller, tekton,
    trigger_controller,
};

/// Run the operator until `shutdown` resolves.
pub async fn run(
    client: Client,
    config: OperatorConfig,
    mut server: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Refused before anything starts: the dashboard reads the store.
    let dashboard = crate::ui_board::dashboard_store(&config).map_err(std::io::Error::other)?;
    let leadership = Leadership::reported_in(&server.metrics);
    if let Some(store) = &config.store {
        store.observe_writes(Arc::new(server.metrics.clone()));
    }
    let (caches, streams) = watches(&client, config.watch_namespace.clone());
    let ctx = Context::new(
        client.clone(),
        config.clone(),
        leadership.clone(),
        server.metrics.clone(),
        caches,
    );
    if let Some(store) = dashboard {
        crate::ui_board::serve_dashboard(&ctx, store, &mut server);
    }
    let image = image_context(&ctx)?;
    let (compat, compat_task) = gitops_compat(&image, &server.health).unzip();
    // Reconcile requests are passed on as annotations, by whichever replica gets them.
    if let Some(api) = server.api.as_mut() {
        let reconciler: Arc<dyn Reconcile> = Arc::new(ClusterReconciler { ctx: ctx.clone() });
        api.reconciler.get_or_insert(reconciler);
        let updates: Arc<dyn ImageUpdates> = Arc::new(ClusterImageUpdates {
            image: image.clone(),
            compat: compat.clone(),
        });
        api.image_updates.get_or_insert(updates);
    }
    let health = server.health.clone();
    let election = tokio::spawn(health.clone().guard(
        "leader election",
        lease::elect(client.clone(), config, leadership),
    ));
    let controllers = tokio::spawn(health.clone().guard(
        "controllers",
        controllers(client, ctx.clone(), image, streams),
    ));
    let queued =
        run_controller::count_queued(ctx.caches.runs.clone(), ctx.metrics.runs_queued.clone());
    let queued = tokio::spawn(queued);
    let notifications = ctx.config.store.clone().map(|store| {
        let dispatch = notifier_controller::dispatch_on_leader(ctx.clone(), store);
        tokio::spawn(health.clone().guard("notifications", dispatch))
    });
    // Hooks are answered from the caches: not before they hold what exists.
    let ready = ctx.caches.clone();
    let readiness = health.clone();
    tokio::spawn(async move {
        ready.wait_until_ready().await;
        readiness.set_ready();
    });
    let served = herald_server::serve(Arc::new(ClusterHooks { ctx }), &server, shutdown).await;
    election.abort();
    controllers.abort();
    queued.abort();
    if let Some(task) = notifications {
        task.abort();
    }
    if let Some(task) = compat_task {
        task.abort();
    }
    served
}

/// With `--gitops-operator-annotations`: the annotated Deployments' watch and the leader's
/// loop, started (with their task); `None` without it, and then Deployments are never watched
/// (which the chart's default RBAC would refuse).
fn gitops_compat(
    image: &Arc<ImageContext>,
    health: &herald_server::Health,
) -> Option<(Arc<GitopsCompat>, tokio::task::JoinHandle<()>)> {
    let config = &image.ctx.config;
    if !config.gitops_operator_annotations {
        return None;
    }
    let (compat, watch) = GitopsCompat::new(image.clone(), config.gitops_operator_interval);
    let looped = compat.clone().run();
    let work = async move {
        futures::join!(watch, looped);
    };
    let task = tokio::spawn(health.clone().guard("gitops-operator annotations", work));
    Some((compat, task))
}

/// Image automation's engine over the caches, shared by the controller and the endpoints.
pub fn image_context(ctx: &Arc<Context>) -> std::io::Result<Arc<ImageContext>> {
    let env = ClusterEnv { ctx: ctx.clone() };
    let registry = herald_registry::RegistryClient::new().map_err(std::io::Error::other)?;
    let poster = ctx
        .poster()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let notifier = herald_automation::notify::Notifier::with_poster(poster.clone());
    let writers =
        herald_automation::writer::Writers::new(ctx.config.clone_cache.clone(), Default::default());
    let updater = herald_automation::Updater::new(
        Arc::new(env),
        registry,
        writers,
        notifier,
        ctx.config.git_timeout,
        ctx.metrics.clone(),
    );
    Ok(Arc::new(ImageContext {
        ctx: ctx.clone(),
        updater,
    }))
}

/// The watches behind the caches, handed to the controllers that react to them.
pub struct Streams {
    schedules: BoxedStream<ScheduleTrigger>,
    webhooks: BoxedStream<WebhookTrigger>,
    repos: BoxedStream<GitRepo>,
    cluster_repos: BoxedStream<ClusterGitRepo>,
    actions: BoxedStream<HeraldAction>,
    cluster_actions: BoxedStream<ClusterAction>,
    runs: BoxedStream<Run>,
    /// Queued Runs a peer's end may let start.
    run_wakes: futures::stream::BoxStream<'static, ObjectRef<Run>>,
    /// Changes of Herald's Jobs, which wake their Runs.
    jobs: BoxedStream<Job>,
    image_updates: BoxedStream<ImageUpdate>,
    notifiers: BoxedStream<Notifier>,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams").finish_non_exhaustive()
    }
}

type BoxedStream<K> = futures::stream::BoxStream<'static, Result<K, watcher::Error>>;

/// One watch per kind of Herald's sources and triggers (in `namespace`, or all), feeding both
/// the caches every lookup reads and the controllers.
pub fn watches(client: &Client, namespace: Option<String>) -> (Caches, Streams) {
    let api = Scoped {
        client: client.clone(),
        namespace,
    };
    let (schedule_triggers, listed_schedules, schedules) =
        caches::watched(api.of::<ScheduleTrigger>());
    let (webhook_triggers, listed_webhooks, webhooks) = caches::watched(api.of::<WebhookTrigger>());
    let (git_repos, listed_repos, repos) = caches::watched(api.of::<GitRepo>());
    let (cluster_git_repos, listed_cluster_repos, cluster_repos) =
        caches::watched(Api::<ClusterGitRepo>::all(client.clone()));
    let (actions_cache, listed_actions, actions) = caches::watched(api.of::<HeraldAction>());
    let (cluster_actions_cache, listed_cluster_actions, cluster_actions) =
        caches::watched(Api::<ClusterAction>::all(client.clone()));
    // Runs wake on their creation, their Jobs' changes, a cancel request and a peer's end
    // when they are queued, never on their own status writes.
    let (runs_cache, listed_runs, runs, run_wakes) =
        caches::watched_waking(api.of::<Run>(), run_controller::woken_by);
    let (jobs_cache, listed_jobs, jobs) = caches::watched_jobs(api.of::<Job>());
    // Not part of readiness: an operator upgraded without the ImageUpdate CRD keeps serving
    // hooks and runs (the watch retries and logs until the CRD is applied).
    let (image_updates_cache, _, image_updates) = caches::watched(api.of::<ImageUpdate>());
    // Nor are Notifiers: runs and hooks never wait for a notification.
    let (notifiers_cache, _, notifiers) = caches::watched(api.of::<Notifier>());
    let caches = Caches {
        schedule_triggers,
        webhook_triggers,
        git_repos,
        cluster_git_repos,
        actions: actions_cache,
        cluster_actions: cluster_actions_cache,
        runs: runs_cache,
        jobs: jobs_cache,
        image_updates: image_updates_cache,
        notifiers: notifiers_cache,
        secrets: SecretCache::new(client.clone()),
        listed: vec![
            listed_schedules,
            listed_webhooks,
            listed_repos,
            listed_cluster_repos,
            listed_actions,
            listed_cluster_actions,
            listed_runs,
            listed_jobs,
        ],
    };
    let streams = Streams {
        schedules: schedules.boxed(),
        webhooks: webhooks.boxed(),
        repos: repos.boxed(),
        cluster_repos: cluster_repos.boxed(),
        actions: actions.boxed(),
        cluster_actions: cluster_actions.boxed(),
        runs: runs.boxed(),
        run_wakes: run_wakes.boxed(),
        jobs: jobs.boxed(),
        image_updates: image_updates.boxed(),
        notifiers: notifiers.boxed(),
    };
    (caches, streams)
}

/// Objects each controller reconciles at once. kube's client speaks HTTP/1.1, one connection
/// per request in flight: unbounded, the first checks of 500 triggers and their Runs opened
/// about 700 connections to the API server (20 MB of buffers and TLS state, which the
/// allocator kept long after). Git listings have their own, smaller bound (`RefLister`).
const RECONCILES_AT_ONCE: u16 = 16;

/// The controller of a kind fed by `stream` and read from `cache`, bounded.
fn controller<K>(
    stream: impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static,
    cache: Store<K>,
) -> Controller<K>
where
    K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + Send + Sync + 'static,
    K: serde::de::DeserializeOwned,
{
    Controller::for_stream(stream, cache)
        .with_config(controller::Config::default().concurrency(RECONCILES_AT_ONCE))
}

/// The kinds [`controllers`] reconciles, as `herald_reconcile_errors_total` labels them.
const CONTROLLED_KINDS: [&str; 9] = [
    "Run",
    "ScheduleTrigger",
    "WebhookTrigger",
    "GitRepo",
    "ClusterGitRepo",
    "Action",
    "ClusterAction",
    "ImageUpdate",
    "Notifier",
];

/// All controllers, side by side.
pub async fn controllers(
    client: Client,
    ctx: Arc<Context>,
    image: Arc<ImageContext>,
    streams: Streams,
) {
    let caches = ctx.caches.clone();
    for kind in CONTROLLED_KINDS {
        crate::error::count_reconcile_errors_from_zero(&ctx.metrics, kind);
    }
    let image_updates = controller(streams.image_updates, caches.image_updates).run(
        |update, image: Arc<ImageContext>| async move {
            let metrics = image.ctx.metrics.clone();
            timed(
                &metrics,
                "ImageUpdate",
                image_update_controller::reconcile(update, image),
            )
            .await
        },
        image_update_controller::error_policy,
        image,
    );
    let runs = controller(streams.runs, caches.runs.clone())
        .owns_stream(streams.jobs)
        .reconcile_on(streams.run_wakes)
        .run(
            timed_reconcile!("Run", run_controller::reconcile),
            error_policy,
            ctx.clone(),
        );
    let schedules = controller(streams.schedules, caches.schedule_triggers).run(
        timed_reconcile!("ScheduleTrigger", trigger_controller::reconcile_schedule),
        error_policy,
        ctx.clone(),
    );
    let webhooks = controller(streams.webhooks, caches.webhook_triggers).run(
        timed_reconcile!("WebhookTrigger", trigger_controller::reconcile_webhook),
        error_policy,
        ctx.clone(),
    );
    let repos = controller(streams.repos, caches.git_repos).run(
        timed_reconcile!("GitRepo", source_controller::reconcile_git_repo),
        error_policy,
        ctx.clone(),
    );
    let cluster_repos = controller(streams.cluster_repos, caches.cluster_git_repos).run(
        timed_reconcile!(
            "ClusterGitRepo",
            source_controller::reconcile_cluster_git_repo
        ),
        error_policy,
        ctx.clone(),
    );
    let actions = controller(streams.actions, caches.actions).run(
        timed_reconcile!("Action", resource_controller::reconcile_action),
        error_policy,
        ctx.clone(),
    );
    let cluster_actions = controller(streams.cluster_actions, caches.cluster_actions).run(
        timed_reconcile!(
            "ClusterAction",
            resource_controller::reconcile_cluster_action
        ),
        error_policy,
        ctx.clone(),
    );
    let notifiers = controller(streams.notifiers, caches.notifiers).run(
        timed_reconcile!("Notifier", notifier_controller::reconcile),
        error_policy,
        ctx.clone(),
    );
    // Tekton's CustomRun and Run, for the FluxRevisionWait custom task (off without Tekton).
    let flux_waits = tekton::run(client, ctx);
    // A task per controller: a wake-up polls only its own controller (in one joined future
    // every reconcile's wake-up polled all ten), and two controllers reconcile on two
    // workers at once. Dropping the set, when this task is aborted, aborts them.
    let mut loops = tokio::task::JoinSet::new();
    loops.spawn(drain("Run", runs));
    loops.spawn(drain("ScheduleTrigger", schedules));
    loops.spawn(drain("WebhookTrigger", webhooks));
    loops.spawn(drain("GitRepo", repos));
    loops.spawn(drain("ClusterGitRepo", cluster_repos));
    loops.spawn(drain("Action", actions));
    loops.spawn(drain("ClusterAction", cluster_actions));
    loops.spawn(drain("ImageUpdate", image_updates));
    loops.spawn(drain("Notifier", notifiers));
    loops.spawn(flux_waits);
    while let Some(ended) = loops.join_next().await {
        // A controller's panic is this loop's, as it was when they were one future.
        if let Err(e) = ended
            && e.is_panic()
        {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// A reconcile function timed into `herald_reconcile_duration_seconds{kind}`.
macro_rules! timed_reconcile {
    ($kind:literal, $reconcile:path) => {
        |object, ctx: Arc<Context>| async move {
            let metrics = ctx.metrics.clone();
            timed(&metrics, $kind, $reconcile(object, ctx)).await
        }
    };
}
use timed_reconcile;

/// Await `work`, observing how long it took as a reconcile of `kind`.
async fn timed<T>(
    metrics: &herald_server::Metrics,
    kind: &str,
    work: impl Future<Output = T>,
) -> T {
    let started = std::time::Instant::now();
    let done = work.await;
    let labels = herald_server::KindLabels { kind: kind.into() };
    let histogram = metrics.reconcile_duration.get_or_create(&labels);
    histogram.observe(started.elapsed().as_secs_f64());
    done
}

/// Builds APIs for namespaced kinds in the watched namespace, or in all.
struct Scoped {
    client: Client,
    namespace: Option<String>,
}

impl Scoped {
    fn of<K>(&self) -> Api<K>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
    {
        match &self.namespace {
            Some(namespace) => Api::namespaced(self.client.clone(), namespace),
            None => Api::all(self.client.clone()),
        }
    }
}

/// Log each reconcile's outcome; the stream only ends when the controller stops.
pub(crate) async fn drain<K, S, E>(kind: &'static str, stream: S)
where
    K: Resource,
    S: futures::Stream<Item = Result<(kube::runtime::reflector::ObjectRef<K>, Action), E>>,
    E: std::fmt::Display,
{
    stream
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(kind, error = %e, "reconcile failed");
            }
        })
        .await;
}

/// Transient errors retry after a pause; the next success resets nothing to remember.
fn error_policy<K>(object: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action
where
    K: Resource<DynamicType = ()>,
{
    let name = object.meta().name.clone().unwrap_or_default();
    crate::error::count_reconcile_error(&ctx.metrics, &K::kind(&()), error);
    tracing::warn!(kind = %K::kind(&()), %name, category = error.category(), %error, "reconcile failed; retrying");
    match error {
        Error::Invalid(_) => Action::await_change(),
        _ => Action::requeue(Duration::from_secs(5)),
    }
}
