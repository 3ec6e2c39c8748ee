//! The profile's list of signed-in sessions: this browser marked, any
//! other one can be ended (a plain form posting to `/auth/sessions/end`).

use leptos::{either::Either, prelude::*};

use crate::{api, model::SessionView, pages::error::InlineError};

#[component]
pub fn Sessions() -> impl IntoView {
    let sessions = Resource::new_blocking(|| (), |()| api::sessions());
    view! {
        <section class="sessions" aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Where you are signed in"</h2>
            <Suspense fallback=|| view! { <div class="identity-loading" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Err(err) => Either::Left(view! { <InlineError error=err /> }),
                        Ok(list) => {
                            let rows = list
                                .unwrap_or_default()
                                .into_iter()
                                .map(|session| view! { <SessionRow session /> })
                                .collect_view();
                            Either::Right(view! { <ul class="identity-list">{rows}</ul> })
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn SessionRow(session: SessionView) -> impl IntoView {
    let end_label = format!("End the session on {}", session.browser);
    view! {
        <li class="identity" data-testid="session" data-current=session.current.to_string()>
            <span class="identity-text">
                <span class="identity-label">
                    {session.browser.clone()}
                    {session.current.then(|| view! { <span class="badge">"This browser"</span> })}
                </span>
                <span class="muted">
                    "Signed in " {session.created.clone()} " · last seen " {session.last_seen.clone()}
                </span>
            </span>
            {(!session.current).then(|| view! {
                <form method="post" action="/auth/sessions/end" class="identity-action">
                    <input type="hidden" name="id" value=session.id />
                    <input type="hidden" name="return_to" value="/profile" />
                    <button class="button button-quiet button-small" type="submit" aria-label=end_label>
                        "End session"
                    </button>
                </form>
            })}
        </li>
    }
}
