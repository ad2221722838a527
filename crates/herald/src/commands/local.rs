//! `herald local`.

use std::process::ExitCode;

use herald_local::LocalConfig;

use crate::cli::LocalArgs;

fn local_config(args: &LocalArgs) -> anyhow::Result<LocalConfig> {
    let work_root =
        (args.work_dir.clone()).unwrap_or_else(|| super::default_work_root(&args.store.db));
    Ok(LocalConfig {
        dir: args.dir.clone(),
        db: args.store.db.clone(),
        store_url: args.store_url.clone(),
        work_root,
        listen: args.listen,
        max_parallel: args.max_parallel,
        reload_every: args.reload_every,
        rate_limits: args.rate_limits.limits(),
        git_concurrency: args.git.git_concurrency.into(),
        git_timeout: args.git.git_timeout,
        external_url: args.api.external_url.as_ref().map(ToString::to_string),
        flux_secret: super::flux_secret(&args.api)?,
        reconcile_access: super::reconcile_access(&args.api, args.listen)?,
        retention: super::retention(&args.api),
        ui: !args.no_ui,
    })
}

pub async fn local(args: LocalArgs) -> anyhow::Result<ExitCode> {
    let config = local_config(&args)?;
    // A URL may hold a password: only its scheme is logged.
    let store = match &config.store_url {
        Some(url) => format!("{} URL", url.split(':').next().unwrap_or("store")),
        None => config.db.display().to_string(),
    };
    tracing::info!(dir = %config.dir.display(), %store, listen = %config.listen, "herald local starting");
    herald_local::run(config, super::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
