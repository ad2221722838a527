//! Condition types and the reasons Herald gives in them, in one place for both modes (as Flux
//! keeps its own in its API package): the same state has the same word in a cluster's
//! conditions, in local mode's load report and in a hook's answer.

/// Condition type: the object does what it is for.
pub const READY: &str = "Ready";
/// Condition type: not ready yet, and Herald keeps trying.
pub const RECONCILING: &str = "Reconciling";
/// Condition type: not ready until the spec changes.
pub const STALLED: &str = "Stalled";
/// Condition type (webhook triggers with `webhook.register`): the hook exists at the Git host
/// as the trigger describes it.
pub const HOOK_REGISTERED: &str = "HookRegistered";

/// The Git host created or updated the hook.
pub const REGISTERED: &str = "Registered";
/// The Git host refused a hook request (its status and answer are in the message).
pub const HOST_REFUSED: &str = "HostRefused";
/// The Git host could not be reached.
pub const HOST_UNREACHABLE: &str = "HostUnreachable";

/// The spec breaks a rule the API server cannot check.
pub const INVALID_SPEC: &str = "InvalidSpec";
/// A trigger's sources were checked.
pub const CHECKED: &str = "Checked";
/// A source could not be checked (several failed, for different reasons, or the API server
/// could not be asked).
pub const SOURCE_UNAVAILABLE: &str = "SourceUnavailable";
/// A run or a last seen revision could not be read or stored (the run store, or in a cluster
/// the API server).
pub const STORE_UNAVAILABLE: &str = "StoreUnavailable";
/// A trigger names a source that does not exist.
pub const SOURCE_NOT_FOUND: &str = "SourceNotFound";
/// A run's Action or ClusterAction does not exist.
pub const ACTION_NOT_FOUND: &str = "ActionNotFound";
/// A source's credentials are unusable as given (not UTF-8, a file the auth type needs is
/// missing).
pub const CREDENTIALS_INVALID: &str = "CredentialsInvalid";
/// A webhook trigger can verify its senders.
pub const ACCEPTING_HOOKS: &str = "AcceptingHooks";
/// A Notifier can reach its receiver's configuration (Secret and keys present).
pub const READY_TO_SEND: &str = "ReadyToSend";
/// A source listed its refs.
pub const REACHABLE: &str = "Reachable";
/// A source could not be reached.
pub const UNREACHABLE: &str = "Unreachable";
/// The Git server refused the credentials (or wanted some).
pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
/// The SSH host is not in `known_hosts`.
pub const HOST_KEY_UNKNOWN: &str = "HostKeyUnknown";
/// The SSH host presented another key than `known_hosts` holds (or a revoked one).
pub const HOST_KEY_CHANGED: &str = "HostKeyChanged";
/// The HTTPS server's certificate could not be verified.
pub const TLS_FAILED: &str = "TlsFailed";
/// The repository or the watched ref does not exist.
pub const REF_NOT_FOUND: &str = "RefNotFound";
/// A Secret an object names does not exist.
pub const SECRET_MISSING: &str = "SecretMissing";
/// A Secret exists but lacks the key an object names.
pub const SECRET_KEY_MISSING: &str = "SecretKeyMissing";
/// A hook's secret is empty, so nothing could verify.
pub const SECRET_EMPTY: &str = "SecretEmpty";
/// `spec.suspend` is set: no scheduled checks, deliveries refused (409), a source skipped.
pub const SUSPENDED: &str = "Suspended";
/// A request the API serves only with a token, to a server started without one.
pub const API_TOKEN_REQUIRED: &str = "ApiTokenRequired";
/// A Bitbucket Cloud path token too short to be the whole proof of a sender.
pub const TOKEN_TOO_SHORT: &str = "TokenTooShort";

/// A run's transitions, the same words in a local run's history and a Run's `status.history`.
/// Stored: a run waits to start.
pub const RUN_CREATED: &str = "Created";
/// Started: the checkout and the action are under way (locally a process, in a cluster a Job).
pub const RUN_STARTED: &str = "Started";
/// The action exited 0.
pub const RUN_COMPLETED: &str = "Completed";
/// The action exited non-zero (in a cluster the Job controller's own reason, such as
/// `BackoffLimitExceeded`, is kept).
pub const RUN_ERROR: &str = "Error";
/// The action ran past its deadline.
pub const RUN_DEADLINE_EXCEEDED: &str = "DeadlineExceeded";
/// Herald stopped while the run was executing; it is not run again.
pub const RUN_INTERRUPTED: &str = "Interrupted";
/// The run's action or source could not be read when it was due to start.
pub const RUN_INVALID_DEFINITION: &str = "InvalidDefinition";

/// A run waits: its action already has `concurrency.max` runs executing (`Queue`).
pub const RUN_QUEUED: &str = "Queued";
/// A run was not run: its action already had `concurrency.max` runs executing (`Forbid`).
pub const RUN_CONCURRENCY_LIMIT: &str = "ConcurrencyLimit";
/// A run was cancelled by a newer run of its action (`concurrency.policy: Replace`).
pub const RUN_REPLACED: &str = "Replaced";

/// A step's transitions and results (besides the run's words above, which steps share:
/// `Started`, `Completed`, `Error`, `DeadlineExceeded`, `Interrupted`).
/// Skipped: a step it needs failed, or was skipped because a step before it failed.
pub const STEP_NEED_FAILED: &str = "NeedFailed";
/// Skipped: a step it needs was skipped by its own condition.
pub const STEP_NEED_SKIPPED: &str = "NeedSkipped";
/// Skipped: its `if` is false (`if: failure`, and nothing it needs failed).
pub const STEP_CONDITION_FALSE: &str = "ConditionFalse";
/// Cancelled: the action's `timeout` ran out before the step finished (or started).
pub const STEP_ACTION_TIMED_OUT: &str = "ActionTimedOut";
/// Cancelled: the run was cancelled (another run replaced it) before the step finished.
pub const STEP_RUN_CANCELLED: &str = "RunCancelled";
/// A re-run kept this step's result and outputs from the run it re-runs.
pub const STEP_REUSED: &str = "Reused";
/// A run re-runs another from one of its steps (`herald runs rerun`).
pub const RUN_RERUN: &str = "Rerun";
/// Another attempt starts after a failure or a timeout (`retries`).
pub const STEP_RETRYING: &str = "Retrying";
/// A step wrote more than its 4 KiB to `$HERALD_OUTPUT`, or the run's outputs passed 32 KiB.
pub const STEP_OUTPUT_TOO_LARGE: &str = "OutputTooLarge";
/// A line of `$HERALD_OUTPUT` is not `key=value`, or repeats a key.
pub const STEP_OUTPUT_MALFORMED: &str = "OutputMalformed";
/// `$HERALD_OUTPUT` holds a key the step does not declare in `outputs`.
pub const STEP_OUTPUT_UNDECLARED: &str = "OutputUndeclared";
/// An output's value holds a secret the step was given.
pub const STEP_OUTPUT_SECRET: &str = "OutputHoldsSecret";

/// An ImageUpdate's outcomes (its `Ready` reason, and each `image.update` event's reason).
/// A commit with the new tag was pushed.
pub const IMAGE_UPDATED: &str = "Updated";
/// The manifests already name the chosen tag.
pub const IMAGE_UP_TO_DATE: &str = "UpToDate";
/// `requireImage`: the chosen tag's manifest is not in the registry yet; checked again soon.
pub const WAITING_FOR_IMAGE: &str = "WaitingForImage";
/// `requireImage`: the chosen tag's manifest did not appear within the timeout.
pub const IMAGE_NOT_FOUND: &str = "ImageNotFound";
/// No tag the registry lists satisfies the policy.
pub const NO_MATCHING_TAG: &str = "NoMatchingTag";
/// The registry could not be asked (unreachable, an answer that breaks the API, a repository
/// it does not know).
pub const REGISTRY_UNAVAILABLE: &str = "RegistryUnavailable";
/// The registry refused the credentials (401 or 403 after they were read again).
pub const REGISTRY_UNAUTHORIZED: &str = "RegistryUnauthorized";
/// The Git server refused the push (a protected branch, a pre-receive hook).
pub const PUSH_REJECTED: &str = "PushRejected";
/// The manifests could not be written: the clone, the push, or other writers kept moving the
/// branch through every attempt.
pub const WRITE_FAILED: &str = "WriteFailed";
/// A notification endpoint answered other than 2xx, could not be reached, or its Secret could
/// not be read. Recorded as an event; never a reason an update failed.
pub const NOTIFICATION_FAILED: &str = "NotificationFailed";
/// `dryRun`: what would change was computed, nothing was pushed.
pub const DRY_RUN: &str = "DryRun";
