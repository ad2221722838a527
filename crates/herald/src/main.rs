//! The `herald` command. Parsing lives in `cli`, each subcommand in `commands`.

mod cli;
mod client;
mod commands;
mod output;

use clap::Parser;

// Hooks allocate and free many short-lived buffers (bodies, parsed JSON) across threads; glibc's
// allocator spent a fifth of the hook path's CPU on that, mimalloc far less.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    commands::init_tracing(&cli.log_format);
    match commands::dispatch(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
