//! The events the bench records: a deterministic, realistic mix. Time runs forward through
//! ~10,000 revisions; each revision is detected, delivered by hooks (some delivered twice), run,
//! and reconciled by Flux across ~50 objects.

use herald_store::{EventKind, NewEvent};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

/// Distinct revisions over the whole run.
pub const REVISIONS: usize = 10_000;
/// Flux objects (Kustomizations and HelmReleases) reporting on them.
pub const OBJECTS: usize = 50;

/// A Flux object: kind, namespace, name.
pub type Object = (&'static str, String, String);

/// The event mix for a run of `total` events.
#[derive(Debug)]
pub struct Workload {
    total: usize,
    start: Timestamp,
}

impl Workload {
    pub fn new(total: usize) -> Self {
        let span = SignedDuration::from_secs(i64::try_from(total).unwrap_or(i64::MAX));
        Self {
            total,
            start: Timestamp::now() - span,
        }
    }

    /// Event number `i` (0-based, in time order).
    pub fn event(&self, i: usize) -> NewEvent {
        let mut rng = Rng::new(i as u64);
        let rev = i * REVISIONS / self.total.max(1);
        let at = self.start + SignedDuration::from_secs(i as i64);
        let event = match rng.below(100) {
            0..70 => flux_event(rev, &object(rng.below(OBJECTS as u64) as usize), &mut rng),
            70..85 => hook_delivery(i, rev, &mut rng),
            85..97 => run_transition(i, rev, &mut rng),
            _ => detected(rev),
        };
        NewEvent {
            at: Some(at),
            ..event
        }
    }
}

/// The 40-hex SHA-1 of revision number `rev`.
pub fn revision(rev: usize) -> String {
    let mut rng = Rng::new(0x5eed_0000 ^ rev as u64);
    format!(
        "{:016x}{:016x}{:08x}",
        rng.next(),
        rng.next(),
        rng.next() as u32
    )
}

/// Flux object number `n`.
pub fn object(n: usize) -> Object {
    if n % 5 == 4 {
        ("HelmRelease", "apps".to_owned(), format!("release-{n:02}"))
    } else {
        (
            "Kustomization",
            "flux-system".to_owned(),
            format!("app-{n:02}"),
        )
    }
}

fn flux_event(rev: usize, (kind, namespace, name): &Object, rng: &mut Rng) -> NewEvent {
    let (reason, severity) = match rng.below(100) {
        0..40 => ("ReconciliationSucceeded", "info"),
        40..75 => ("Progressing", "info"),
        75..95 => ("DependencyNotReady", "info"),
        95..98 => ("HealthCheckFailed", "error"),
        _ => ("ReconciliationFailed", "error"),
    };
    let revision = format!("main@sha1:{}", revision(rev));
    let message = format!("{reason}: {kind}/{namespace}/{name} at {revision}");
    let controller = if *kind == "HelmRelease" {
        "helm-controller"
    } else {
        "kustomize-controller"
    };
    NewEvent {
        namespace: Some(namespace.clone()),
        revision: Some(revision.clone()),
        involved_kind: Some((*kind).to_owned()),
        involved_namespace: Some(namespace.clone()),
        involved_name: Some(name.clone()),
        reason: Some(reason.to_owned()),
        severity: Some(severity.to_owned()),
        message: Some(message.clone()),
        payload: Some(json!({
            "involvedObject": {
                "kind": kind,
                "namespace": namespace,
                "name": name,
                "uid": format!("{:016x}", rng.next()),
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "resourceVersion": rng.below(1_000_000).to_string(),
            },
            "severity": severity,
            "message": message,
            "reason": reason,
            "metadata": {"revision": revision},
            "reportingController": controller,
            "reportingInstance": format!("{controller}-7d9f8b6c5-x2x9z"),
        })),
        ..NewEvent::new(EventKind::FluxEvent)
    }
}

/// Whether event `i` is a hook delivery (the first draw of its generator picks its kind).
fn is_hook(i: usize) -> bool {
    (70..85).contains(&Rng::new(i as u64).below(100))
}

/// The delivery event `i` carries: its own, or for about 2% a redelivery of a recent one
/// (stored once, answered as a duplicate).
fn delivery_of(i: usize, rng: &mut Rng) -> usize {
    if rng.below(50) != 0 || i < 1000 {
        return i;
    }
    let mut j = i - 1 - rng.below(1000) as usize;
    while j > 0 && !is_hook(j) {
        j -= 1;
    }
    let mut earlier = Rng::new(j as u64);
    earlier.below(100);
    delivery_of(j, &mut earlier)
}

/// The delivery id event `i` carries, when it is a hook delivery (stored by then).
pub fn delivery_key(i: usize) -> Option<String> {
    if !is_hook(i) {
        return None;
    }
    let mut rng = Rng::new(i as u64);
    rng.below(100);
    Some(delivery_id(delivery_of(i, &mut rng)))
}

/// The delivery id of delivery number `delivery`, scoped as the hook handler scopes it.
fn delivery_id(delivery: usize) -> String {
    format!("default/on-push/{delivery:08x}-9d2c-11ee-8c90-0242ac120002")
}

fn hook_delivery(i: usize, rev: usize, rng: &mut Rng) -> NewEvent {
    let delivery = delivery_of(i, rng);
    let sha = revision(rev);
    NewEvent {
        namespace: Some("default".into()),
        trigger: Some("on-push".into()),
        source: Some("app".into()),
        revision: Some(sha.clone()),
        reason: Some("push".into()),
        delivery_id: Some(delivery_id(delivery)),
        payload: Some(json!({
            "provider": "github",
            "ref": "refs/heads/main",
            "after": sha,
            "repository": {"full_name": "example/app"},
            "runs": [format!("on-push-app-{}", &sha[..12])],
        })),
        ..NewEvent::new(EventKind::HookDelivery)
    }
}

fn run_transition(i: usize, rev: usize, rng: &mut Rng) -> NewEvent {
    let (phase, reason) = match rng.below(3) {
        0 => ("Pending", "Created"),
        1 => ("Running", "Started"),
        _ => ("Succeeded", "ExitCode"),
    };
    let sha = revision(rev);
    NewEvent {
        namespace: Some("default".into()),
        trigger: Some("on-push".into()),
        source: Some("app".into()),
        revision: Some(sha.clone()),
        involved_kind: Some("Run".into()),
        involved_namespace: Some("default".into()),
        involved_name: Some(format!("on-push-app-{}-{}", &sha[..12], i % 7)),
        reason: Some(reason.into()),
        message: Some(format!("run is {phase}")),
        ..NewEvent::new(EventKind::RunTransition)
    }
}

fn detected(rev: usize) -> NewEvent {
    NewEvent {
        namespace: Some("default".into()),
        trigger: Some("on-push".into()),
        source: Some("app".into()),
        revision: Some(revision(rev)),
        reason: Some("Detected".into()),
        message: Some("new revision on refs/heads/main".into()),
        ..NewEvent::new(EventKind::RevisionDetected)
    }
}

/// SplitMix64: small, fast, deterministic; good enough to pick a workload.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x2545_f491_4f6c_dd1d)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
