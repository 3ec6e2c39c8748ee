//! Profile: who is signed in, and the way out.

use leptos::{either::EitherOf3, prelude::*};
use leptos_meta::Title;

use crate::{
    CurrentUser,
    components::{
        avatar::Avatar, connections::Connections, live_data::LiveData, notes::Notes,
        sessions::Sessions,
    },
    pages::error::ErrorPanel,
};

#[component]
pub fn ProfilePage() -> impl IntoView {
    let user = use_context::<CurrentUser>();
    view! {
        <Title text="Your profile · Portcullis" />
        <Suspense fallback=|| view! { <div class="card card-loading" aria-busy="true"></div> }>
            {move || Suspend::new(async move {
                let signed_in = match user {
                    Some(user) => user.await,
                    None => Ok(None),
                };
                match signed_in {
                    Err(err) => EitherOf3::A(view! { <ErrorPanel error=err /> }),
                    Ok(None) => EitherOf3::B(view! {
                        <section class="card">
                            <h1>"You are not signed in"</h1>
                            <p class="lead">"Sign in to see your profile."</p>
                            <a class="button" href="/">"Sign in"</a>
                        </section>
                    }),
                    Ok(Some(user)) => EitherOf3::C(view! {
                        <section class="card profile" aria-labelledby="profile-heading">
                            <div class="profile-head">
                                <Avatar user=user.clone() class="avatar avatar-large" />
                                <div>
                                    <h1 id="profile-heading">{user.name.clone()}</h1>
                                    <p class="muted">{user.email.clone().unwrap_or_else(|| "No e-mail shared".into())}</p>
                                </div>
                            </div>
                            <dl class="facts">
                                <dt>"Signed in with"</dt>
                                <dd data-testid="provider">{user.provider.clone()}</dd>
                            </dl>
                            <LiveData provider=user.provider.clone() />
                            {user.apis.iter().any(|api| api == "notes").then(|| view! { <Notes /> })}
                            <Connections />
                            <Sessions />
                            // A plain form: signing out works before the WASM bundle loads.
                            <form method="post" action="/auth/logout">
                                <button class="button button-quiet" type="submit">"Log out"</button>
                            </form>
                        </section>
                    }),
                }
            })}
        </Suspense>
    }
}
