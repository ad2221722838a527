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

fn main() -> std::process::ExitCode {
    keep_small_pages();
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

/// Turns transparent huge pages off for this process, before the runtime allocates. mimalloc
/// asks for huge pages on its arenas (and a node set to THP `always` gives them anyway), so
/// every 2 MiB region a thread touched stayed resident whole: 16 of idle local mode's 37 MB
/// of anonymous memory, and more with every thread in a cluster. Herald's heap is tens of
/// MB, too small for huge pages to save anything worth that.
fn keep_small_pages() {
    #[cfg(target_os = "linux")]
    if let Err(error) = nix::sys::prctl::set_thp_disable(true) {
        // Only memory is at stake; say so and go on.
        eprintln!("warning: cannot turn transparent huge pages off: {error}");
    }
}
