//! The reference app's server: read settings, start, serve until stopped.

use std::process::ExitCode;

use reference::{Application, Config};

#[tokio::main]
async fn main() -> ExitCode {
    portcullis::telemetry::init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(problems) => {
            tracing::error!("{problems}");
            return ExitCode::FAILURE;
        }
    };
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(err) => {
            tracing::error!("cannot start: {}", portcullis::telemetry::cause_chain(&err));
            return ExitCode::FAILURE;
        }
    };
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("server stopped with an error: {err}");
            ExitCode::FAILURE
        }
    }
}
