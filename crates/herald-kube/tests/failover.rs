//! Operator restarts and replicas on a real control plane: one leader at a time, failover when
//! it stops, and no revision run twice across a restart mid-run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use herald_api::{Run, RunPhase};
use herald_kube::{LEASE_NAME, OperatorConfig, try_hold};
use herald_testkit::{complete_pod, wait_for};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::ListParams;
use support::{Operator, TIMEOUT, TestRepo, job_pod, namespace, schedule_setup, wait_for_run};

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases.get(LEASE_NAME).await.ok()?.spec?.holder_identity
}

#[tokio::test]
async fn one_leader_and_the_other_takes_over_when_it_stops() {
    let ns = namespace("lease").await;
    let leases: Api<Lease> = ns.api();
    let a = Operator::start(&ns.client, &ns.name, "replica-a").await;
    wait_for("replica-a to lead", TIMEOUT, || async {
        (holder(&leases).await? == "replica-a").then_some(())
    })
    .await
    .unwrap();
    let b = Operator::start(&ns.client, &ns.name, "replica-b").await;
    // While a renews, b cannot take the Lease: ask as b would.
    let as_b = OperatorConfig {
        namespace: ns.name.clone(),
        identity: "replica-b".into(),
        lease_duration: Duration::from_secs(3),
        ..OperatorConfig::default()
    };
    assert!(
        !try_hold(&leases, &as_b).await.unwrap(),
        "a held Lease is respected"
    );
    assert_eq!(holder(&leases).await.as_deref(), Some("replica-a"));
    a.stop().await;
    wait_for("replica-b to take over", TIMEOUT, || async {
        (holder(&leases).await? == "replica-b").then_some(())
    })
    .await
    .unwrap();
    let lease = leases.get(LEASE_NAME).await.unwrap();
    assert_eq!(lease.spec.unwrap().lease_transitions, Some(1));
    b.stop().await;
}

#[tokio::test]
async fn a_run_survives_an_operator_restart_and_nothing_runs_twice() {
    let ns = namespace("restart").await;
    let repo = TestRepo::new();
    let first = Operator::start(&ns.client, &ns.name, "first").await;
    schedule_setup(&ns, &repo.url()).await;
    let head = repo.git(&["rev-parse", "HEAD"]);
    let runs: Api<Run> = ns.api();
    let run = wait_for_run(&ns, &head).await;
    let name = run.metadata.name.clone().unwrap();
    let pod = job_pod(&ns, &name).await;
    first.stop().await;

    // The Job finishes while no operator runs; a new one picks the Run up where it was.
    complete_pod(
        &ns.client,
        &ns.name,
        pod.metadata.name.as_deref().unwrap(),
        0,
        Some("done"),
    )
    .await
    .unwrap();
    let second = Operator::start(&ns.client, &ns.name, "second").await;
    wait_for("the Run to succeed", TIMEOUT, || async {
        let run = runs.get(&name).await.ok()?;
        (run.status?.phase == Some(RunPhase::Succeeded)).then_some(())
    })
    .await
    .unwrap();
    // Let the new leader check the unchanged source at least once more.
    let before = second.schedule_checks().await;
    wait_for("another check by the new leader", TIMEOUT, || async {
        (second.schedule_checks().await > before).then_some(())
    })
    .await
    .unwrap();
    assert_eq!(
        runs.list(&ListParams::default()).await.unwrap().items.len(),
        1,
        "one Run for one revision"
    );
    let jobs: Api<Job> = ns.api();
    assert_eq!(
        jobs.list(&ListParams::default()).await.unwrap().items.len(),
        1,
        "one Job for one Run"
    );
    second.stop().await;
}
