//! `herald reconcile KIND/NAME`: ask a running Herald (either mode) to reconcile a trigger now,
//! through its API. Exit 0 once the request is accepted; the check itself follows.

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::ReconcileArgs;
use crate::client::ApiClient;

pub async fn reconcile(args: ReconcileArgs) -> anyhow::Result<ExitCode> {
    let token = (args.token_file.as_deref())
        .map(|path| super::secret_file(path, "API token"))
        .transpose()?;
    let client = ApiClient::new(&args.server.server)?;
    let (kind, name) = (args.trigger.kind.to_string(), &args.trigger.name);
    let answer = client
        .reconcile(&kind, &args.namespace, name, token.as_ref())
        .await?;
    let requested_at = answer["requestedAt"]
        .as_str()
        .context("the server's answer has no requestedAt")?;
    println!(
        "{kind} {}/{name}: reconcile requested at {requested_at}",
        args.namespace
    );
    Ok(ExitCode::SUCCESS)
}
