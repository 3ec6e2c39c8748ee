//! "Your notes": an API of the app's own (the notes API), called from this
//! page through Portcullis's API proxy at `/api/remote/notes`. The browser
//! sends its session cookie and `X-CSRF: 1`; Portcullis adds the user's
//! access token on the server, so the page never holds one.
//!
//! The card works once the page is interactive: before that (and without
//! JavaScript) its form is disabled and the card says so, so nothing is
//! submitted to the wrong place.

use leptos::{either::EitherOf3, prelude::*};
use serde::Deserialize;

use crate::{error::AppError, pages::error::InlineError};

/// One note as the notes API sends it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Note {
    pub text: String,
}

#[component]
pub fn Notes() -> impl IntoView {
    // `None` loads the list, `Some(text)` adds a note; either answers the list.
    let call = Action::new_local(|text: &Option<String>| notes_api(text.clone()));
    let (notes, set_notes) = signal(None::<Vec<Note>>);
    let (failure, set_failure) = signal(None::<AppError>);
    let (status, set_status) = signal(String::new());
    let (draft, set_draft) = signal(String::new());
    let (interactive, set_interactive) = signal(false);
    // Whether the call in flight adds a note (its draft is cleared then).
    let (adding, set_adding) = signal(false);
    let input = NodeRef::<leptos::html::Input>::new();

    Effect::new(move |_| {
        let Some(answer) = call.value().get() else {
            return;
        };
        let added = adding.get_untracked();
        set_adding.set(false);
        match answer {
            Ok(list) => {
                if added {
                    set_draft.set(String::new());
                    set_status.set("Note added.".into());
                }
                set_notes.set(Some(list));
                set_failure.set(None);
            }
            // The list shown stays; the failure shows next to it.
            Err(error) => set_failure.set(Some(error)),
        }
    });
    // Only the browser calls the API: the first load once interactive.
    Effect::new(move |_| {
        set_interactive.set(true);
        call.dispatch(None);
    });

    let busy = move || call.pending().get();
    let add = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if busy() {
            return;
        }
        let text = draft.get_untracked().trim().to_owned();
        if text.is_empty() {
            set_status.set("Write something first.".into());
            if let Some(input) = input.get_untracked() {
                let _ = input.focus();
            }
            return;
        }
        set_status.set(String::new());
        set_adding.set(true);
        call.dispatch(Some(text));
    };
    view! {
        <section class="notes" aria-labelledby="notes-heading">
            <h2 id="notes-heading">"Your notes"</h2>
            <p class="muted">
                "Kept by the notes API, which this page calls through Portcullis: your token is added on the server."
            </p>
            <form class="note-form" on:submit=add>
                <fieldset disabled=move || !interactive.get()>
                    <label for="new-note">"New note"</label>
                    <div class="note-row">
                        <input
                            id="new-note"
                            name="note"
                            type="text"
                            maxlength="500"
                            autocomplete="off"
                            aria-describedby="note-status"
                            node_ref=input
                            prop:value=move || draft.get()
                            on:input=move |event| set_draft.set(event_target_value(&event))
                        />
                        <button class="button" type="submit" aria-disabled=move || busy().to_string()>
                            {move || if busy() { "Saving…" } else { "Add note" }}
                        </button>
                    </div>
                </fieldset>
                <p id="note-status" class="muted note-status" role="status">
                    {move || status.get()}
                </p>
            </form>
            <div class="notes-list">
                {move || match notes.get() {
                    Some(list) => EitherOf3::A(view! { <NoteList list /> }),
                    None if failure.get().is_some() => EitherOf3::B(()),
                    None => EitherOf3::C(view! {
                        <p class="muted">
                            {move || if interactive.get() {
                                "Loading your notes…"
                            } else {
                                "Your notes load once this page is ready (it needs JavaScript)."
                            }}
                        </p>
                    }),
                }}
                {move || failure.get().map(|error| view! { <NotesFailure error retry=move || { call.dispatch(None); } /> })}
            </div>
        </section>
    }
}

#[component]
fn NoteList(list: Vec<Note>) -> impl IntoView {
    if list.is_empty() {
        return leptos::either::Either::Left(view! {
            <p class="muted" data-testid="notes-empty">"No notes yet."</p>
        });
    }
    let items = list
        .into_iter()
        .map(|note| view! { <li>{note.text}</li> })
        .collect_view();
    leptos::either::Either::Right(view! { <ul data-testid="notes">{items}</ul> })
}

/// What went wrong, and the way forward: sign in again where the session
/// is the cause, else try again.
#[component]
fn NotesFailure(error: AppError, retry: impl Fn() + Send + Sync + 'static) -> impl IntoView {
    let sign_in = matches!(
        error,
        AppError::NotSignedIn | AppError::SessionEnded | AppError::ApiTokenRefused
    );
    view! {
        <div class="notes-failure">
            <InlineError error />
            {if sign_in {
                leptos::either::Either::Left(view! { <a class="button button-quiet" href="/" rel="external">"Log in again"</a> })
            } else {
                leptos::either::Either::Right(view! {
                    <button class="button button-quiet" type="button" on:click=move |_| retry()>
                        "Try again"
                    </button>
                })
            }}
        </div>
    }
}

/// The notes after a `GET` (no `text`) or after adding `text` (`POST`).
#[cfg(target_arch = "wasm32")]
async fn notes_api(text: Option<String>) -> Result<Vec<Note>, AppError> {
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
/// does, once interactive (the effect that loads them runs there alone).
#[cfg(not(target_arch = "wasm32"))]
async fn notes_api(_text: Option<String>) -> Result<Vec<Note>, AppError> {
    Err(AppError::Unreachable)
}
