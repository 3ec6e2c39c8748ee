//! Service status panel: asks the server for a live health summary on
//! demand. The answer comes back through a server function.

use leptos::prelude::*;

use crate::{api::CheckServiceStatus, model::ServiceStatus};

#[component]
pub fn StatusPanel() -> impl IntoView {
    let check = ServerAction::<CheckServiceStatus>::new();
    let pending = check.pending();
    let result = check.value();

    view! {
        <section class="status" aria-labelledby="status-heading">
            <h2 id="status-heading" class="visually-hidden">"Service status"</h2>
            <button
                class="button button-quiet"
                type="button"
                aria-describedby="status-result"
                disabled=move || pending.get()
                on:click=move |_| {
                    check.dispatch(CheckServiceStatus {});
                }
            >
                {move || if pending.get() { "Checking…" } else { "Check service status" }}
            </button>
            <p id="status-result" class="status-result" role="status" aria-live="polite">
                {move || match result.get() {
                    None => String::new(),
                    Some(Ok(status)) => describe(&status),
                    Some(Err(err)) => format!("{} ({})", err, err.code()),
                }}
            </p>
        </section>
    }
}

fn describe(status: &ServiceStatus) -> String {
    format!(
        "Online · version {} · {} of {} sign-in providers available · up {}",
        status.version,
        status.providers_available,
        status.providers_total,
        uptime(status.uptime_secs),
    )
}

fn uptime(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_reads_naturally() {
        assert_eq!(uptime(5), "5 s");
        assert_eq!(uptime(125), "2 min");
        assert_eq!(uptime(3 * 3600 + 61), "3 h 1 min");
    }

    #[test]
    fn description_names_provider_availability() {
        let status = ServiceStatus {
            version: "1.2.3".into(),
            uptime_secs: 61,
            providers_available: 1,
            providers_total: 2,
        };
        assert_eq!(
            describe(&status),
            "Online · version 1.2.3 · 1 of 2 sign-in providers available · up 1 min"
        );
    }
}
