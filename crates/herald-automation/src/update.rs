//! One update attempt, the same in both modes: choose the tag, wait for its image if asked,
//! hand the intents to the writer of the target branch, then record and announce the outcome.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use herald_api::validate::{render_push_branch, step_duration};
use herald_api::{
    DEFAULT_IMAGE_UPDATE_INTERVAL, DEFAULT_REQUIRE_IMAGE_TIMEOUT, ImageUpdate, ImageUpdateSpec,
    ValueKind, reasons,
};
use herald_git::Author;
use herald_image::{Intent, Policy, PolicyName, Reference, Repository, YamlPath};
use herald_registry::RegistryClient;
use herald_server::{Metrics, ReconcileError};

use crate::choose::{self, Registry, SecretCredentials};
use crate::env::UpdateEnv;
use crate::error::UpdateError;
use crate::notify::Notifier;
use crate::report::{Outcome, Report};
use crate::tags::TagCache;
use crate::writer::{DEFAULT_MESSAGE_TEMPLATE, Destination, Update, WriteOutcome, Writers};

/// The author of commits when an ImageUpdate names none.
pub const DEFAULT_AUTHOR_NAME: &str = "Herald";
/// Its e-mail address.
pub const DEFAULT_AUTHOR_EMAIL: &str = "herald@localhost";
/// How soon an update waiting for its image looks again.
pub const IMAGE_WAIT_RECHECK: Duration = Duration::from_secs(10);

/// Push, or only show what would change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Push,
    DryRun,
}

impl Mode {
    /// The mode of an HTTP request to attempt `update` now: a suspended update is refused (as
    /// Flux refuses to reconcile a suspended object), except for a dry run, which pushes
    /// nothing.
    pub fn requested(update: &ImageUpdate, dry_run: bool) -> Result<Self, ReconcileError> {
        match (dry_run, update.spec.suspend) {
            (true, _) => Ok(Self::DryRun),
            (false, false) => Ok(Self::Push),
            (false, true) => {
                let namespace = update.metadata.namespace.as_deref().unwrap_or("default");
                let name = update.metadata.name.as_deref().unwrap_or_default();
                Err(ReconcileError::Suspended(format!(
                    "ImageUpdate {namespace}/{name}"
                )))
            }
        }
    }
}

/// What an attempt came to, for the status, the API and the event.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub report: Report,
    /// The `Ready` condition's reason (`herald_api::reasons`).
    pub reason: &'static str,
    /// The tag the policy chose, when it got that far.
    pub latest_tag: Option<String>,
    /// Look again this soon rather than at the next interval (an image being waited for).
    pub retry_after: Option<Duration>,
}

impl Attempt {
    /// Whether the update did what it is for (or is on its way: waiting for the image).
    pub fn ready(&self) -> bool {
        !matches!(self.report.action, Outcome::Failed | Outcome::Rejected)
    }
}

/// The engine. Cheap to clone; one per process.
#[derive(Debug)]
pub struct Updater<E> {
    env: Arc<E>,
    registry: RegistryClient,
    writers: Writers,
    notifier: Notifier,
    tags: TagCache,
    waits: Waits,
    git_timeout: Duration,
    metrics: Metrics,
}

// Not derived: `E` itself need not be `Clone`, the `Arc` is.
impl<E> Clone for Updater<E> {
    fn clone(&self) -> Self {
        self.with_env(self.env.clone())
    }
}

impl<E> Updater<E> {
    /// The same engine (registry client, writers, tag listings, waits) over another mode's
    /// reads: the gitops-operator annotations resolve their repositories and Secrets their own
    /// way, and their updates still batch with the ImageUpdates' on one branch.
    pub fn with_env<F>(&self, env: Arc<F>) -> Updater<F> {
        Updater {
            env,
            registry: self.registry.clone(),
            writers: self.writers.clone(),
            notifier: self.notifier.clone(),
            tags: self.tags.clone(),
            waits: self.waits.clone(),
            git_timeout: self.git_timeout,
            metrics: self.metrics.clone(),
        }
    }
}

/// When each (namespace, name, tag) was first found missing from the registry.
type Waits = Arc<Mutex<HashMap<(String, String, String), Instant>>>;

/// The object an attempt is for.
struct Named<'a> {
    namespace: &'a str,
    name: &'a str,
    spec: &'a ImageUpdateSpec,
}

/// What was decided before anything is written.
struct Chosen {
    repository: Repository,
    tag: String,
}

impl<E: UpdateEnv> Updater<E> {
    pub fn new(
        env: Arc<E>,
        registry: RegistryClient,
        writers: Writers,
        notifier: Notifier,
        git_timeout: Duration,
        metrics: Metrics,
    ) -> Self {
        Self {
            env,
            registry,
            writers,
            notifier,
            tags: TagCache::default(),
            waits: Arc::default(),
            git_timeout,
            metrics,
        }
    }

    /// How often `update` is checked.
    pub fn interval(spec: &ImageUpdateSpec) -> Duration {
        let text = spec
            .interval
            .as_deref()
            .unwrap_or(DEFAULT_IMAGE_UPDATE_INTERVAL);
        step_duration(text).unwrap_or(Duration::from_secs(300))
    }

    /// One attempt. Never fails: a failure is an attempt with `Failed` and its reason. A
    /// pushed attempt is recorded as an `image.update` event and announced; a dry run neither.
    pub async fn attempt(&self, object: &ImageUpdate, mode: Mode) -> Attempt {
        let named = Named {
            namespace: object.metadata.namespace.as_deref().unwrap_or("default"),
            name: object.metadata.name.as_deref().unwrap_or_default(),
            spec: &object.spec,
        };
        let (chosen, result) = self.try_attempt(&named, mode).await;
        let latest_tag = chosen.as_ref().map(|c| c.tag.clone());
        let attempt = match result {
            Ok(attempt) => attempt,
            Err(error) => failed(&named, latest_tag.clone(), &error),
        };
        if mode == Mode::Push {
            Metrics::count(&self.metrics.image_updates, attempt.reason);
            self.env
                .record(crate::events::attempted(&named.report_target(), &attempt))
                .await;
            self.announce(&named, &attempt).await;
        }
        attempt
    }

    async fn try_attempt(
        &self,
        named: &Named<'_>,
        mode: Mode,
    ) -> (Option<Chosen>, Result<Attempt, UpdateError>) {
        let chosen = match self.choose(named).await {
            Ok(chosen) => chosen,
            Err(error) => return (None, Err(error)),
        };
        let result = self.write(named, &chosen, mode).await;
        (Some(chosen), result)
    }

    async fn choose(&self, named: &Named<'_>) -> Result<Chosen, UpdateError> {
        let spec = named.spec;
        let repository = Repository::parse(&spec.image.repository)
            .map_err(|error| UpdateError::Invalid(error.to_string()))?;
        let credentials = self.credentials(named);
        // Read once up front so a missing Secret or key is reported as such (`SecretMissing`),
        // not as a registry failure; the registry calls read it again themselves.
        credentials.check().await?;
        let tag = match choose::compile(&spec.policy)? {
            Policy::Tags(policy) => {
                let registry = Registry {
                    client: &self.registry,
                    cache: &self.tags,
                    credentials: &credentials,
                    max_age: Self::interval(spec),
                };
                choose::newest_listed_tag(&policy, &repository, registry).await?
            }
            Policy::GitCommit(template) => {
                let commit = spec.policy.git_commit.as_ref().ok_or_else(|| {
                    UpdateError::Invalid("a gitCommit policy without its fields".into())
                })?;
                let remote = self.env.remote(named.namespace, &commit.source).await?;
                choose::commit_tag(&template, commit, remote, self.git_timeout).await?
            }
        };
        Ok(Chosen { repository, tag })
    }

    fn credentials(&self, named: &Named<'_>) -> SecretCredentials<E> {
        SecretCredentials {
            env: self.env.clone(),
            namespace: named.namespace.to_owned(),
            secret: named.spec.image.secret_ref.as_ref().map(|s| s.name.clone()),
        }
    }

    /// `requireImage`: `Some(attempt)` while the tag's manifest is not there yet.
    async fn image_wait(
        &self,
        named: &Named<'_>,
        chosen: &Chosen,
    ) -> Result<Option<Attempt>, UpdateError> {
        let Some(require) = &named.spec.require_image else {
            return Ok(None);
        };
        let credentials = self.credentials(named);
        let key = (
            named.namespace.to_owned(),
            named.name.to_owned(),
            chosen.tag.clone(),
        );
        if self
            .registry
            .manifest_exists(&chosen.repository, &chosen.tag, &credentials)
            .await?
        {
            self.waits
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
            return Ok(None);
        }
        let timeout = require
            .timeout
            .as_deref()
            .unwrap_or(DEFAULT_REQUIRE_IMAGE_TIMEOUT);
        let timeout = step_duration(timeout).unwrap_or(Duration::from_secs(600));
        let waited = {
            let mut waits = self.waits.lock().unwrap_or_else(|e| e.into_inner());
            // A newer tag replaces the one waited for before.
            waits.retain(|(ns, name, tag), _| ns != &key.0 || name != &key.1 || tag == &key.2);
            waits.entry(key).or_insert_with(Instant::now).elapsed()
        };
        let reference = chosen.repository.to_string() + ":" + &chosen.tag;
        if waited >= timeout {
            return Err(UpdateError::ImageNotFound { reference, waited });
        }
        let message = format!("waiting for {reference} to be pushed to the registry");
        Ok(Some(Attempt {
            report: report(
                named,
                Outcome::WaitingForImage,
                None,
                Some(&chosen.tag),
                message,
            ),
            reason: reasons::WAITING_FOR_IMAGE,
            latest_tag: Some(chosen.tag.clone()),
            retry_after: Some(IMAGE_WAIT_RECHECK.min(timeout - waited)),
        }))
    }

    async fn write(
        &self,
        named: &Named<'_>,
        chosen: &Chosen,
        mode: Mode,
    ) -> Result<Attempt, UpdateError> {
        if let Some(waiting) = self.image_wait(named, chosen).await? {
            return Ok(waiting);
        }
        let spec = named.spec;
        let remote = self
            .env
            .remote(named.namespace, &spec.target.git_repo)
            .await?;
        let destination = Destination {
            remote,
            checkout_branch: spec.target.branch.clone(),
            push_branch: spec.target.push_branch.as_deref().map_or_else(
                || spec.target.branch.clone(),
                |template| render_push_branch(template, named.name, named.namespace, &chosen.tag),
            ),
            push_options: spec.target.push_options.clone(),
        };
        let updates = self.updates(named, chosen)?;
        let tag = Some(chosen.tag.as_str());
        if mode == Mode::DryRun {
            let previews = updates
                .into_iter()
                .map(|update| self.writers.preview(destination.clone(), update));
            let previews = futures::future::try_join_all(previews).await?;
            let changes = previews.iter().flat_map(|p| p.changes.iter());
            let from = old_tag(changes.clone().map(|c| &c.change));
            let message = format!("{} value(s) would change", changes.count());
            let mut report = report(named, Outcome::DryRun, from, tag, message);
            report.diff = Some(previews.iter().map(|p| p.diff.as_str()).collect());
            return Ok(Attempt {
                report,
                reason: reasons::DRY_RUN,
                latest_tag: Some(chosen.tag.clone()),
                retry_after: None,
            });
        }
        // Sent together, so they land in one batch: one commit.
        let writes = updates
            .into_iter()
            .map(|update| self.writers.write(destination.clone(), update));
        let mut all = futures::future::try_join_all(writes).await?.into_iter();
        let mut written = all
            .next()
            .ok_or_else(|| UpdateError::Invalid("an update with nothing to write".into()))?;
        for values in all {
            written.changes.extend(values.changes);
        }
        let from = old_tag(written.changes.iter().map(|c| &c.change));
        let reference = format!("{}:{}", spec.image.repository, chosen.tag);
        let (outcome, reason, message, commit) = match written.outcome {
            WriteOutcome::Pushed { commit, .. } => (
                Outcome::Updated,
                reasons::IMAGE_UPDATED,
                format!(
                    "set {reference} in {} place(s), with {} other update(s) in the commit",
                    written.changes.len(),
                    written.batch_size.saturating_sub(1)
                ),
                Some(commit),
            ),
            WriteOutcome::UpToDate => (
                Outcome::UpToDate,
                reasons::IMAGE_UP_TO_DATE,
                format!("the manifests already name {reference}"),
                None,
            ),
            WriteOutcome::Rejected { reason } => (
                Outcome::Rejected,
                reasons::PUSH_REJECTED,
                format!("the server refused the push: {reason}"),
                None,
            ),
            WriteOutcome::GaveUp { attempts } => (
                Outcome::Failed,
                reasons::WRITE_FAILED,
                format!("other writers kept moving the branch through {attempts} attempts"),
                None,
            ),
        };
        let mut report = report(named, outcome, from, tag, message);
        report.commit = commit;
        Ok(Attempt {
            report,
            reason,
            latest_tag: Some(chosen.tag.clone()),
            retry_after: None,
        })
    }

    /// The writer's requests: the image's intents over `target.paths`, and one per values
    /// target, which sets its path in its own file only.
    fn updates(&self, named: &Named<'_>, chosen: &Chosen) -> Result<Vec<Update>, UpdateError> {
        let spec = named.spec;
        let mut intents = vec![Intent::Tag {
            repository: chosen.repository.clone(),
            tag: chosen.tag.clone(),
        }];
        if let Ok(policy) = PolicyName::parse(&format!("{}:{}", named.namespace, named.name)) {
            intents.push(Intent::Policy {
                policy,
                image: spec.image.repository.clone(),
                tag: chosen.tag.clone(),
            });
        }
        let paths = if spec.target.paths.is_empty() {
            vec![".".to_owned()]
        } else {
            spec.target.paths.clone()
        };
        let commit = spec.commit.as_ref();
        let author = commit.and_then(|c| c.author.as_ref()).map_or_else(
            || Author {
                name: DEFAULT_AUTHOR_NAME.into(),
                email: DEFAULT_AUTHOR_EMAIL.into(),
            },
            |a| Author {
                name: a.name.clone(),
                email: a.email.clone(),
            },
        );
        let image = Update {
            id: format!("{}/{}", named.namespace, named.name),
            intents,
            paths,
            author,
            message_template: commit
                .and_then(|c| c.message_template.clone())
                .unwrap_or_else(|| DEFAULT_MESSAGE_TEMPLATE.to_owned()),
        };
        let mut updates = Vec::with_capacity(1 + spec.target.values.len());
        for values in &spec.target.values {
            let path = YamlPath::parse(&values.path)
                .map_err(|error| UpdateError::Invalid(error.to_string()))?;
            let value = match values.value {
                ValueKind::Tag => chosen.tag.clone(),
                ValueKind::Image => format!("{}:{}", spec.image.repository, chosen.tag),
            };
            updates.push(Update {
                intents: vec![Intent::Path { path, value }],
                paths: vec![values.file.clone()],
                ..image.clone()
            });
        }
        updates.insert(0, image);
        Ok(updates)
    }

    /// Tell the notification endpoints about an update or a failure (not about "up to date"
    /// or "waiting", which every interval would repeat). A failed notification is logged and
    /// recorded as a `NotificationFailed` event; it never fails the update.
    async fn announce(&self, named: &Named<'_>, attempt: &Attempt) {
        if matches!(
            attempt.report.action,
            Outcome::UpToDate | Outcome::WaitingForImage | Outcome::DryRun
        ) {
            return;
        }
        let endpoints =
            crate::notify_targets::endpoints(&*self.env, named.namespace, named.spec).await;
        let results = self
            .notifier
            .send_all(&endpoints.endpoints, &attempt.report)
            .await;
        let failed = endpoints
            .labels
            .iter()
            .zip(results)
            .filter_map(|(label, result)| {
                let word = if result.is_ok() { "sent" } else { "failed" };
                Metrics::count(&self.metrics.notifications, word);
                result.err().map(|error| (label.clone(), error.to_string()))
            });
        for (label, error) in failed.chain(endpoints.unusable) {
            tracing::warn!(namespace = named.namespace, name = named.name, notification = %label, %error, "notification failed");
            let event = crate::events::notification_failed(&named.report_target(), &label, &error);
            self.env.record(event).await;
        }
    }
}

impl Named<'_> {
    fn report_target(&self) -> crate::events::Target<'_> {
        crate::events::Target {
            namespace: self.namespace,
            name: self.name,
            repository: &self.spec.target.git_repo.name,
        }
    }
}

fn report(
    named: &Named<'_>,
    action: Outcome,
    from: Option<String>,
    to: Option<&str>,
    message: String,
) -> Report {
    Report {
        deployment: named.name.to_owned(),
        namespace: named.namespace.to_owned(),
        action,
        from,
        to: to.map(str::to_owned),
        status: action.status().to_owned(),
        message,
        commit: None,
        diff: None,
    }
}

fn failed(named: &Named<'_>, tag: Option<String>, error: &UpdateError) -> Attempt {
    Attempt {
        report: report(
            named,
            Outcome::Failed,
            None,
            tag.as_deref(),
            error.to_string(),
        ),
        reason: error.reason(),
        latest_tag: tag,
        retry_after: None,
    }
}

/// The tag the manifests named before: the first changed value's, as a tag.
fn old_tag<'c>(changes: impl IntoIterator<Item = &'c herald_image::Change>) -> Option<String> {
    let old = changes.into_iter().find_map(|c| c.old.clone())?;
    match Reference::parse(&old) {
        Ok(reference) if reference.tag().is_some() && old.contains(['/', ':']) => {
            reference.tag().map(str::to_owned)
        }
        _ => Some(old),
    }
}
