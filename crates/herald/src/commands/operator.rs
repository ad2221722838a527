//! `herald run`: cluster mode.

use std::process::ExitCode;

use anyhow::Context;
use herald_kube::OperatorConfig;
use herald_server::{ApiConfig, ServerConfig};
use herald_store::Store;

use crate::cli::RunArgs;

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let client = kube::Client::try_default()
        .await
        .context("connecting to Kubernetes (in-cluster or KUBECONFIG)")?;
    let identity = args.identity.clone().unwrap_or_else(host_name);
    let store = Store::connect(&args.store)
        .await
        .context("opening the store (--store)")?;
    let api = ApiConfig {
        store: store.clone(),
        flux_secret: super::flux_secret(&args.api)?,
        // Set by the operator, which passes requests on to its controllers.
        reconciler: None,
        reconcile_access: super::reconcile_access(&args.api, args.listen)?,
        image_updates: None,
    };
    let config = OperatorConfig {
        namespace: args.namespace,
        cloner_image: args.cloner_image,
        default_service_account: args.action_service_account,
        keep_succeeded: args.keep_succeeded,
        keep_failed: args.keep_failed,
        lease_duration: args.lease_duration,
        lease_renew: args.lease_renew,
        identity,
        store: Some(store.clone()),
        git_concurrency: args.git.git_concurrency.into(),
        git_timeout: args.git.git_timeout,
        gitops_operator_annotations: args.gitops_operator_annotations,
        gitops_operator_interval: args.gitops_operator_interval,
        external_url: args.api.external_url.as_ref().map(ToString::to_string),
        ui: args.ui,
        ..OperatorConfig::default()
    };
    tracing::info!(namespace = %config.namespace, identity = %config.identity, listen = %args.listen, "herald operator starting");
    let server = ServerConfig {
        listen: args.listen,
        rate_limits: args.rate_limits.limits(),
        api: Some(api),
        ..ServerConfig::default()
    };
    // Every replica prunes: the deletes are idempotent, and a replica never waits for another.
    let retention = tokio::spawn(herald_server::prune_events_forever(
        store,
        super::retention(&args.api),
    ));
    let served = herald_kube::run(client, config, server, super::shutdown_signal()).await;
    retention.abort();
    served.context("serving hooks")?;
    Ok(ExitCode::SUCCESS)
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_or_else(|_| "herald".into(), |h| h.trim().to_owned())
}
