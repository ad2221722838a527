//! `herald wait`: poll a running Herald until Flux reports a revision applied, failed, or the
//! time is up. The exit code says which (see `cli::WAIT_EXIT_CODES`).

use std::process::ExitCode;

use anyhow::Context;
use herald_core::flux::FluxOutcome;
use tokio::time::Instant;

use crate::cli::{WaitArgs, WaitFor};
use crate::client::ApiClient;

/// Flux reported a failure.
const FAILED: u8 = 3;
/// Nothing decisive before the timeout.
const TIMED_OUT: u8 = 4;

pub async fn wait(args: WaitArgs) -> anyhow::Result<ExitCode> {
    let WaitFor::FluxReady = args.condition;
    let client = ApiClient::new(&args.server.server)?;
    let deadline = Instant::now() + args.timeout;
    loop {
        // A request still unanswered at the deadline is a timeout too.
        let Ok(outcome) = tokio::time::timeout_at(deadline, outcome(&client, &args.revision)).await
        else {
            return Ok(timed_out(&args));
        };
        match outcome? {
            FluxOutcome::Ready { object, message } => {
                println!("{} is ready: {object}: {message}", args.revision);
                return Ok(ExitCode::SUCCESS);
            }
            FluxOutcome::Failed {
                object,
                reason,
                message,
            } => {
                eprintln!("{} failed: {object}: {reason}: {message}", args.revision);
                return Ok(ExitCode::from(FAILED));
            }
            FluxOutcome::Pending => {}
        }
        let next = Instant::now() + args.interval;
        if next >= deadline {
            tokio::time::sleep_until(deadline).await;
            return Ok(timed_out(&args));
        }
        tokio::time::sleep_until(next).await;
    }
}

/// What Flux has said about `revision` so far.
async fn outcome(client: &ApiClient, revision: &str) -> anyhow::Result<FluxOutcome> {
    let summary = client.revision(revision).await?;
    serde_json::from_value(summary["flux"]["outcome"].clone())
        .context("the server's answer has no Flux outcome")
}

fn timed_out(args: &WaitArgs) -> ExitCode {
    eprintln!(
        "timed out after {}: Flux has not reported {} ready or failed",
        humantime::format_duration(args.timeout),
        args.revision
    );
    ExitCode::from(TIMED_OUT)
}
