//! The `herald` command. Parsing lives in `cli`, each subcommand in `commands`.

mod cli;
mod client;
mod commands;
mod memory;
mod output;

use clap::Parser;

// Hooks allocate and free many short-lived buffers (bodies, parsed JSON) across threads; glibc's
// allocator spent a fifth of the hook path's CPU on that, mimalloc far less.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    memory::keep_small_pages();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(run()),
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> std::process::ExitCode {
    memory::trim_c_heaps_periodically();
    let cli = cli::Cli::parse();
    let mut telemetry = match commands::init_tracing(&cli.log_format) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("error: {error:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let code = match commands::dispatch(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    };
    // The spans of the last moments (a run's end, the shutdown) are exported before exit.
    telemetry.shutdown();
    code
}
