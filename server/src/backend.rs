//! The server's implementation of the UI's port: turns server state into
//! view types. This is the only place the `app` crate's questions are
//! answered.

use std::{sync::Arc, time::Instant};

use app::{
    error::AppError,
    model::{ProviderView, ServiceStatus, UserView},
    ports::{Backend, BoxFuture},
};
use http::request::Parts;

use crate::config::Settings;

/// Server state behind the UI port.
#[derive(Debug)]
pub struct Portcullis {
    providers: Vec<ProviderView>,
    started: Instant,
}

impl Portcullis {
    pub fn new(settings: &Settings) -> Arc<Self> {
        let providers = settings
            .providers
            .iter()
            .map(|p| ProviderView {
                id: p.id.clone(),
                label: p.label.clone(),
                available: true,
            })
            .collect();
        Arc::new(Self {
            providers,
            started: Instant::now(),
        })
    }
}

impl Backend for Portcullis {
    fn providers(&self) -> Vec<ProviderView> {
        self.providers.clone()
    }

    fn current_user<'a>(
        &'a self,
        _request: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<UserView>, AppError>> {
        Box::pin(async { Ok(None) })
    }

    fn service_status(&self) -> BoxFuture<'_, Result<ServiceStatus, AppError>> {
        Box::pin(async move {
            Ok(ServiceStatus {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                uptime_secs: self.started.elapsed().as_secs(),
                providers_available: self.providers.iter().filter(|p| p.available).count(),
                providers_total: self.providers.len(),
            })
        })
    }
}
