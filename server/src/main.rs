//! Portcullis server binary: read settings, start, serve until stopped.

use std::process::ExitCode;

use server::{config::Settings, startup::Application, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(problems) => {
            tracing::error!("{problems}");
            return ExitCode::FAILURE;
        }
    };
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(err) => {
            tracing::error!("cannot start: {}", telemetry::cause_chain(&err));
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
