//! "Your notes": an API of the app's own (the notes API), called from this
//! page through Portcullis's API proxy at `/api/remote/notes`. The browser
//! sends its session cookie and `X-CSRF: 1`; Portcullis adds the user's
//! access token on the server, so the page never holds one.
//!
//! The card works once the page is interactive: before that (and without
//! JavaScript) its form is disabled and the card says so, so nothing is
//! submitted to the wrong place. Its state is one signal and its calls
//! plain tasks, which keeps what it adds to the browser bundle small.

use leptos::prelude::*;
use serde::Deserialize;

use crate::{error::AppError, pages::error::InlineError};

/// One note as the notes API sends it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Note {
    pub text: String,
}

/// Everything the card shows.
#[derive(Clone, Debug, Default)]
struct Card {
    /// The page can call the API (hydrated).
    interactive: bool,
    busy: bool,
    /// The last list the API sent; kept when a later call fails.
    notes: Option<Vec<Note>>,
    failure: Option<AppError>,
    /// A short word on the last action, for screen readers too.
    status: &'static str,
}

#[component]
pub fn Notes() -> impl IntoView {
    let card = RwSignal::new(Card::default());
    let input = NodeRef::<leptos::html::Input>::new();
    // `None` loads the list, `Some(text)` adds a note.
    let call = move |text: Option<String>| {
        let adding = text.is_some();
        card.update(|card| card.busy = true);
        leptos::task::spawn_local(async move {
            let answer = notes_api(text).await;
            card.update(|card| {
                card.busy = false;
                match answer {
                    Ok(notes) => {
                        card.notes = Some(notes);
                        card.failure = None;
                        if adding {
                            card.status = "Note added.";
                        }
                    }
                    Err(error) => {
                        card.failure = Some(error);
                        card.status = "";
                    }
                }
            });
            if adding
                && card.with_untracked(|card| card.failure.is_none())
                && let Some(input) = input.get_untracked()
            {
                input.set_value("");
            }
        });
    };
    // Only the browser calls the API: the first load once interactive.
    Effect::new(move |_| {
        card.update(|card| card.interactive = true);
        call(None);
    });
    let add = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(field) = input.get_untracked() else {
            return;
        };
        if card.with_untracked(|card| card.busy) {
            return;
        }
        // The browser checked the field (`required`, `pattern`) first.
        card.update(|card| card.status = "Saving…");
        call(Some(field.value()));
    };
    let notes = move || {
        card.with(|card| {
            (card.notes.iter().flatten())
                .map(|note| view! { <li>{note.text.clone()}</li> })
                .collect_view()
        })
    };
    // What the list area says when it shows no notes.
    let message = move || {
        card.with(
            |card| match (&card.notes, &card.failure, card.interactive) {
                (Some(notes), _, _) if notes.is_empty() => "No notes yet.",
                (Some(_), _, _) | (None, Some(_), _) => "",
                (None, None, true) => "Loading your notes…",
                (None, None, false) => {
                    "Your notes load once this page is ready (it needs JavaScript)."
                }
            },
        )
    };
    let failure = move || card.with(|card| card.failure.clone());
    view! {
        <section class="notes" aria-labelledby="notes-heading">
            <h2 id="notes-heading">"Your notes"</h2>
            <p class="muted">
                "Kept by the notes API, which this page calls through Portcullis: your token is added on the server."
            </p>
            <form class="note-form" on:submit=add>
                <fieldset disabled=move || card.with(|card| !card.interactive)>
                    <label for="new-note">"New note"</label>
                    <div class="note-row">
                        <input
                            id="new-note"
                            name="note"
                            type="text"
                            maxlength="500"
                            autocomplete="off"
                            required
                            pattern=".*\\S.*"
                            title="Write something first."
                            aria-describedby="note-status"
                            node_ref=input
                        />
                        <button class="button" type="submit" aria-disabled=move || card.with(|card| card.busy).to_string()>
                            "Add note"
                        </button>
                    </div>
                </fieldset>
                <p id="note-status" class="muted note-status" role="status">
                    {move || card.with(|card| card.status)}
                </p>
            </form>
            <div class="notes-list">
                <ul data-testid="notes" hidden=move || card.with(|card| card.notes.as_ref().is_none_or(Vec::is_empty))>
                    {notes}
                </ul>
                <p class="muted" hidden=move || message().is_empty()>{message}</p>
                <div class="notes-failure" hidden=move || failure().is_none()>
                    {move || failure().map(|error| view! { <InlineError error /> })}
                    <button class="button button-quiet" type="button" on:click=move |_| call(None)>
                        "Try again"
                    </button>
                </div>
            </div>
        </section>
    }
}

/// The notes after a `GET` (no `text`) or after adding `text` (`POST`).
#[cfg(target_arch = "wasm32")]
async fn notes_api(text: Option<String>) -> Result<Vec<Note>, AppError> {
    use gloo_net::http::Request;

    /// Where the notes API is reached on this site.
    const NOTES: &str = "/api/remote/notes/notes";
    /// The header on Portcullis's own error answers (`PROXY_ERROR_HEADER`).
    const PROXY_ERROR_HEADER: &str = "x-portcullis-error";

    #[derive(Deserialize)]
    struct Page {
        notes: Vec<Note>,
    }

    let request = match text {
        None => Request::get(NOTES).header("X-CSRF", "1").build(),
        Some(text) => {
            // `{"text": …}`, quoted by the browser's own JSON (the bundle
            // need not carry a JSON writer for one field).
            let quoted = js_sys::JSON::stringify(&text.into())
                .ok()
                .and_then(|quoted| quoted.as_string())
                .ok_or(AppError::Unreachable)?;
            Request::post(NOTES)
                .header("X-CSRF", "1")
                .header("Content-Type", "application/json")
                .body(format!("{{\"text\":{quoted}}}"))
        }
    };
    let answer = request
        .map_err(|_| AppError::Unreachable)?
        .send()
        .await
        .map_err(|_| AppError::Unreachable)?;
    if answer.ok() {
        return answer
            .json::<Page>()
            .await
            .map(|page| page.notes)
            .map_err(|_| AppError::ApiFailed);
    }
    // Portcullis's own refusals carry their code in a header no API can
    // set; anything else is the notes API's own error.
    Err(answer
        .headers()
        .get(PROXY_ERROR_HEADER)
        .and_then(|code| AppError::from_code(&code))
        .unwrap_or(AppError::ApiFailed))
}

/// The server never calls the notes API for the page: only the browser
/// does, once interactive (the effect that loads them runs there alone).
#[cfg(not(target_arch = "wasm32"))]
async fn notes_api(_text: Option<String>) -> Result<Vec<Note>, AppError> {
    Err(AppError::Unreachable)
}
