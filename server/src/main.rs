//! The `tickertape` binary: parses the configuration, binds, runs until Ctrl-C or SIGTERM.

use clap::Parser;
use server::{
    config::Config,
    startup::{Application, shutdown_signal},
    telemetry,
};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    telemetry::init();
    if let Err(problem) = config.validate() {
        tracing::error!("invalid configuration: {problem}");
        return ExitCode::from(2);
    }

    let listener = match tokio::net::TcpListener::bind(config.addr).await {
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
    match app.run(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server failed");
            ExitCode::FAILURE
        }
    }
}
