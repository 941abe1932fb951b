//! The `tickertape` binary: parses the configuration, binds, runs until Ctrl-C or
//! SIGTERM; or, with `tickertape publish`, replays a CSV of prices into a server.

use server::{
    config::{Command, Config},
    delivery::listener,
    http::startup::{Application, shutdown_signal},
    publish, telemetry,
};
use std::process::ExitCode;

/// The allocator: mimalloc, not the system's. After a connection storm (10 000
/// viewers at once, as after a restart) glibc's malloc kept its high-water
/// mark, 7.4 and 10.3 KiB of RSS per idle stream in two runs of `make bench`'s
/// idle point; mimalloc gave it back: 1.1 and 1.2 KiB, at the same CPU per
/// delivery (issue #20's note has the runs). `make heap-profile` shows where
/// the rest goes.
#[cfg(not(feature = "heap-profile"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// With the `heap-profile` feature, dhat counts every allocation by where it
/// was made, and writes `dhat-heap.json` when the server exits.
#[cfg(feature = "heap-profile")]
#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

#[tokio::main]
async fn main() -> ExitCode {
    #[cfg(feature = "heap-profile")]
    let _profiler = dhat::Profiler::new_heap();
    let mut config = Config::parse_or_exit();
    telemetry::init(config.log_format);
    if let Some(Command::Publish(args)) = config.command.take() {
        return match publish::run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!("{error}");
                ExitCode::FAILURE
            }
        };
    }
    if let Err(problem) = config.validate() {
        tracing::error!("invalid configuration: {problem}");
        return ExitCode::from(2);
    }

    // Before the server says it listens: a signal from then on shuts it down cleanly.
    let shutdown = shutdown_signal();
    listener::raise_open_files_limit();
    let listener = match listener::bind(config.addr, config.listen_backlog) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(addr = %config.addr, %error, "could not listen");
            return ExitCode::FAILURE;
        }
    };
    let app = match Application::new(listener, config) {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "could not start");
            return ExitCode::FAILURE;
        }
    };
    match app.run(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server failed");
            ExitCode::FAILURE
        }
    }
}
