//! "Your notes": an API of the app's own (the notes API), called from this
//! page through Portcullis's API proxy at `/api/remote/notes`. The browser
//! sends its session cookie and `X-CSRF: 1`; Portcullis adds the user's
//! access token on the server, so the page never holds one.

use leptos::{either::Either, prelude::*};
use serde::Deserialize;

use crate::{error::AppError, pages::error::InlineError};

/// One note as the notes API sends it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Note {
    pub text: String,
    /// When it was written (RFC 3339).
    pub at: String,
}

#[component]
pub fn Notes() -> impl IntoView {
    let load = Action::new_local(|_: &()| call(None));
    let add = Action::new_local(|text: &String| call(Some(text.clone())));
    let (draft, set_draft) = signal(String::new());
    // The list shown: the latest answer, whether to loading or adding.
    let (notes, set_notes) = signal(None::<Result<Vec<Note>, AppError>>);
    Effect::new(move |_| {
        if let Some(answer) = load.value().get() {
            set_notes.set(Some(answer));
        }
    });
    Effect::new(move |_| {
        if let Some(answer) = add.value().get() {
            if answer.is_ok() {
                set_draft.set(String::new());
            }
            set_notes.set(Some(answer));
        }
    });
    // Only the browser calls the API: the first load starts once hydrated.
    Effect::new(move |_| {
        load.dispatch(());
    });
    let busy = move || load.pending().get() || add.pending().get();
    view! {
        <section class="notes" aria-labelledby="notes-heading">
            <h2 id="notes-heading">"Your notes"</h2>
            <p class="muted">
                "Kept by the notes API, which this page calls through Portcullis: your token is added on the server."
            </p>
            <form
                class="note-form"
                on:submit=move |event| {
                    event.prevent_default();
                    let text = draft.get_untracked();
                    if !text.trim().is_empty() {
                        add.dispatch(text);
                    }
                }
            >
                <label for="new-note">"New note"</label>
                <div class="note-row">
                    <input
                        id="new-note"
                        name="note"
                        type="text"
                        maxlength="500"
                        required
                        autocomplete="off"
                        prop:value=move || draft.get()
                        on:input=move |event| set_draft.set(event_target_value(&event))
                    />
                    <button class="button" type="submit" disabled=busy aria-busy=move || busy().to_string()>
                        {move || if add.pending().get() { "Adding…" } else { "Add note" }}
                    </button>
                </div>
            </form>
            <div class="notes-list" aria-live="polite" aria-busy=move || busy().to_string()>
                {move || match notes.get() {
                    None => Either::Left(view! { <p class="muted">"Loading your notes…"</p> }),
                    Some(answer) => Either::Right(view! { <NoteList answer /> }),
                }}
            </div>
        </section>
    }
}

#[component]
fn NoteList(answer: Result<Vec<Note>, AppError>) -> impl IntoView {
    match answer {
        Ok(notes) if notes.is_empty() => Either::Left(Either::Left(view! {
            <p class="muted" data-testid="notes-empty">"No notes yet."</p>
        })),
        Ok(notes) => {
            let items = notes
                .into_iter()
                .map(|note| view! { <li>{note.text}</li> })
                .collect_view();
            Either::Left(Either::Right(
                view! { <ul data-testid="notes">{items}</ul> },
            ))
        }
        Err(error) => Either::Right(view! { <InlineError error /> }),
    }
}

/// The notes after a `GET` (no `text`) or after adding `text` (`POST`).
#[cfg(target_arch = "wasm32")]
async fn call(text: Option<String>) -> Result<Vec<Note>, AppError> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;

    /// Where the notes API is reached on this site.
    const NOTES: &str = "/api/remote/notes/notes";
    /// The header on Portcullis's own error answers (`PROXY_ERROR_HEADER`).
    const PROXY_ERROR_HEADER: &str = "x-portcullis-error";

    #[derive(Deserialize)]
    struct Page {
        notes: Vec<Note>,
    }
    let unreachable = |_| AppError::Unreachable;
    let window = web_sys::window().ok_or(AppError::Unreachable)?;
    let headers = web_sys::Headers::new().map_err(unreachable)?;
    headers.set("X-CSRF", "1").map_err(unreachable)?;
    headers
        .set("Accept", "application/json")
        .map_err(unreachable)?;
    let init = web_sys::RequestInit::new();
    if let Some(text) = text {
        let body = serde_json::json!({ "text": text }).to_string();
        headers
            .set("Content-Type", "application/json")
            .map_err(unreachable)?;
        init.set_method("POST");
        init.set_body(&wasm_bindgen::JsValue::from_str(&body));
    }
    init.set_headers(&headers);
    let answer: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(NOTES, &init))
        .await
        .and_then(|value| value.dyn_into())
        .map_err(unreachable)?;
    let body = JsFuture::from(answer.text().map_err(unreachable)?)
        .await
        .map_err(unreachable)?
        .as_string()
        .unwrap_or_default();
    if answer.ok() {
        return serde_json::from_str::<Page>(&body)
            .map(|page| page.notes)
            .map_err(|_| AppError::ApiFailed);
    }
    // Portcullis's own refusals carry their code in a header no API can
    // set; anything else is the notes API's own error.
    let own = answer.headers().get(PROXY_ERROR_HEADER).ok().flatten();
    Err(own
        .and_then(|code| AppError::from_code(&code))
        .unwrap_or(AppError::ApiFailed))
}

/// The server never calls the notes API for the page: only the browser
/// does, once hydrated (the effect that loads them runs there alone).
#[cfg(not(target_arch = "wasm32"))]
async fn call(_text: Option<String>) -> Result<Vec<Note>, AppError> {
    Err(AppError::Unreachable)
}
