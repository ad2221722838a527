//! Cluster mode: `herald run` against a fresh control plane holding the same objects.

use std::time::Instant;

use crate::baseline::LsRemote;
use crate::cluster_objects::{
    apply_crds, count_runs, create_namespace, create_objects, events_between, jobs_settled,
};
use crate::control_plane::ControlPlane;
use crate::settings::Mode;
use crate::setup::{Measured, Setup};
use crate::window::{self, Watched};
use crate::{herald, hook_latency, step_latency};

/// The triggers' namespace, also Herald's own (its Lease).
const NAMESPACE: &str = "polling";

pub async fn measure(setup: &Setup<'_>, ls_remote: LsRemote) -> anyhow::Result<Measured> {
    let settings = setup.settings;
    let dir = setup.folder(Mode::Cluster)?;
    eprintln!("  cluster: starting the control plane");
    let plane = ControlPlane::start().await?;
    let client = plane.client().await?;
    apply_crds(&client).await?;
    create_namespace(&client, NAMESPACE).await?;
    let created = Instant::now();
    create_objects(&client, NAMESPACE, &setup.objects()).await?;
    eprintln!(
        "  cluster: {} objects created in {:.1} s",
        2 * setup.triggers + 1,
        created.elapsed().as_secs_f64()
    );
    let apiserver = plane.apiserver().await?;
    let started = Instant::now();
    let mut herald = herald::start_cluster(
        &plane.kubeconfig,
        NAMESPACE,
        &dir.join("herald.db"),
        &dir.join("herald.log"),
    )?;
    herald.wait_serving().await?;
    eprintln!(
        "  cluster: serving after {:.1} s; warming up",
        started.elapsed().as_secs_f64()
    );
    let mut watched = Watched {
        herald: &mut herald,
        log: &setup.server.log,
        repos: &setup.repos,
        apiserver: Some(&apiserver),
    };
    let mut startup = window::warm_up(&mut watched, started, settings).await?;
    startup.settled = window::settle(&mut watched, started, settings, || {
        jobs_settled(&client, NAMESPACE, setup.triggers)
    })
    .await?;
    let runs_before = count_runs(&client, NAMESPACE).await?;
    eprintln!("  cluster: measuring {:?}", settings.window);
    let window = window::measure(&mut watched, settings.window, settings).await?;
    let runs_after = count_runs(&client, NAMESPACE).await?;
    let events = events_between(&client, NAMESPACE, window.wall).await?;
    eprintln!("  cluster: timing verified pushes to their Jobs");
    let hook_latency = Some(hook_latency::measure(&client, NAMESPACE, herald.listen).await?);
    eprintln!("  cluster: timing a chain of steps from each Job's end to the next Job");
    let step_latency = Some(step_latency::measure(&client, NAMESPACE).await?);
    herald.stop();
    let apiserver_alone = if settings.apiserver_baseline.is_zero() {
        None
    } else {
        eprintln!(
            "  cluster: the API server alone for {:?}",
            settings.apiserver_baseline
        );
        Some(window::apiserver_alone(&apiserver, settings.apiserver_baseline).await?)
    };
    drop(plane);
    Ok(Measured {
        mode: Mode::Cluster,
        triggers: setup.triggers,
        repos: setup.repos.len(),
        interval: settings.interval,
        startup,
        window,
        runs: (runs_before, runs_after),
        apiserver_alone,
        events,
        ls_remote,
        hook_latency,
        step_latency,
    })
}
