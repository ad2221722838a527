//! Leader election with a coordination.k8s.io Lease: the leader polls and schedules, every
//! replica serves hooks. Runs are named by what they are for, so even two leaders for a moment
//! would not run a revision twice.

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::{Api, Client};

use crate::context::{Leadership, OperatorConfig};
use crate::error::{Error, KubeContext, is_conflict, is_not_found};

/// The Lease's name.
pub const LEASE_NAME: &str = "herald-leader";

/// Hold or contend for the Lease forever, updating `leadership` after every attempt.
pub async fn elect(client: Client, config: OperatorConfig, leadership: Leadership) {
    let api: Api<Lease> = Api::namespaced(client, &config.namespace);
    let mut ticker = tokio::time::interval(config.lease_renew);
    loop {
        ticker.tick().await;
        let held = match try_hold(&api, &config).await {
            Ok(held) => held,
            Err(e) => {
                // Not knowing is not holding: stepping down is always safe.
                tracing::warn!(error = %e, "lease check failed");
                false
            }
        };
        if held != leadership.is_leader() {
            tracing::info!(identity = %config.identity, leader = held, "leadership changed");
        }
        leadership.set(held);
    }
}

/// Take, renew or respect the Lease. `Ok(true)` when this replica holds it now.
pub async fn try_hold(api: &Api<Lease>, config: &OperatorConfig) -> Result<bool, Error> {
    let now = Timestamp::now();
    let current = match api.get(LEASE_NAME).await {
        Ok(lease) => lease,
        Err(e) if is_not_found(&e) => return create(api, config, now).await,
        Err(e) => return Err(e).step("reading the Lease"),
    };
    let spec = current.spec.clone().unwrap_or_default();
    let mine = spec.holder_identity.as_deref() == Some(config.identity.as_str());
    if !mine && !expired(&spec, now) {
        return Ok(false);
    }
    let mut next = current;
    let transitions = spec.lease_transitions.unwrap_or(0);
    next.spec = Some(LeaseSpec {
        holder_identity: Some(config.identity.clone()),
        lease_duration_seconds: Some(duration_seconds(config)),
        acquire_time: if mine {
            spec.acquire_time.clone()
        } else {
            Some(MicroTime(now))
        },
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(if mine { transitions } else { transitions + 1 }),
        ..LeaseSpec::default()
    });
    // The resourceVersion in `next` makes this a compare-and-swap: of two contenders, one wins.
    match api.replace(LEASE_NAME, &PostParams::default(), &next).await {
        Ok(_) => Ok(true),
        Err(e) if is_conflict(&e) => Ok(false),
        Err(e) => Err(e).step("updating the Lease"),
    }
}

async fn create(api: &Api<Lease>, config: &OperatorConfig, now: Timestamp) -> Result<bool, Error> {
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some(LEASE_NAME.into()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(config.identity.clone()),
            lease_duration_seconds: Some(duration_seconds(config)),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(0),
            ..LeaseSpec::default()
        }),
    };
    match api.create(&PostParams::default(), &lease).await {
        Ok(_) => Ok(true),
        Err(e) if is_conflict(&e) => Ok(false),
        Err(e) => Err(e).step("creating the Lease"),
    }
}

/// Whether the holder has failed to renew within the lease duration.
pub fn expired(spec: &LeaseSpec, now: Timestamp) -> bool {
    let Some(renewed) = spec.renew_time.as_ref().map(|t| t.0) else {
        return true;
    };
    let seconds = i64::from(spec.lease_duration_seconds.unwrap_or(15));
    renewed + jiff::SignedDuration::from_secs(seconds) < now
}

fn duration_seconds(config: &OperatorConfig) -> i32 {
    i32::try_from(config.lease_duration.as_secs())
        .unwrap_or(i32::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_expires_after_its_duration_without_renewal() {
        let renewed: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let spec = LeaseSpec {
            renew_time: Some(MicroTime(renewed)),
            lease_duration_seconds: Some(10),
            ..LeaseSpec::default()
        };
        assert!(!expired(&spec, "2026-01-01T00:00:09Z".parse().unwrap()));
        assert!(expired(&spec, "2026-01-01T00:00:11Z".parse().unwrap()));
        assert!(
            expired(&LeaseSpec::default(), renewed),
            "never renewed is free to take"
        );
    }
}
