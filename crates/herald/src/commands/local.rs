//! `herald local`.

use std::process::ExitCode;

use herald_local::LocalConfig;

use crate::cli::LocalArgs;

fn local_config(args: &LocalArgs) -> LocalConfig {
    let work_root =
        (args.work_dir.clone()).unwrap_or_else(|| super::default_work_root(&args.store.db));
    LocalConfig {
        dir: args.dir.clone(),
        db: args.store.db.clone(),
        work_root,
        listen: args.listen,
        max_parallel: args.max_parallel,
        reload_every: args.reload_every,
        rate_limits: args.rate_limits.limits(),
    }
}

pub async fn local(args: LocalArgs) -> anyhow::Result<ExitCode> {
    let config = local_config(&args);
    tracing::info!(dir = %config.dir.display(), db = %config.db.display(), listen = %config.listen, "herald local starting");
    herald_local::run(config, super::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
