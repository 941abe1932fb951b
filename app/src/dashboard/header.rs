//! The page's header: the connection's status and controls, the stream's
//! figures, and the server's notices.

// `#[component]` makes its props `pub`, whatever the function's visibility.
#![allow(unreachable_pub)]

use crate::{
    format,
    screen::{Controls, Screen, server_only, text},
    status::{Connection, Phase},
    sync::{Recovery, StreamSync},
};
use leptos::prelude::*;

/// The status pill (announced to screen readers), the countdown to the next
/// reconnection attempt, how the stream came back, and pause / reconnect.
#[component]
pub(super) fn StatusBar(view: Screen, controls: Controls) -> impl IntoView {
    let Screen {
        connection,
        phase,
        recovery,
        next_try,
        clock,
        ..
    } = view;
    // How the stream came back: after a reconnect or a pause, or whenever it
    // had to resync; only while it is live (beside a Reconnecting pill it
    // would be about an older connection).
    let came_back = move || {
        if phase.get() != Phase::Live {
            return None;
        }
        let reconnected = connection.with(|c| c.reopened);
        recovery
            .get()
            .filter(|r| reconnected || *r == Recovery::Resynced)
            .map(Recovery::describe)
    };
    let countdown = move || {
        let at = next_try.get()?;
        (phase.get() == Phase::Reconnecting)
            .then(|| format!("next try in {}", format::countdown(at - clock.get())))
    };
    let paused = move || phase.get() == Phase::Paused;
    view! {
        // The pause button first and the pill's followers only in trouble, so the
        // pill changing its words (Connecting… to Live) moves nothing else.
        <div class="statusbar">
            <button
                class="button pause"
                type="button"
                data-testid="pause"
                aria-pressed=text(move || paused().to_string())
                on:click=move |_| {
                    if paused() { controls.resume.run(()) } else { controls.pause.run(()) }
                }
            >
                {text(move || if paused() { "Resume" } else { "Pause" }.to_owned())}
            </button>
            <div
                class=text(move || connection.with(Connection::classes))
                data-testid="connection-status"
                data-state=text(move || phase.get().slug().to_owned())
                role="status"
                aria-live="polite"
            >
                <span class="status-dot" aria-hidden="true"></span>
                <span class="status-text">{text(move || connection.with(Connection::describe))}</span>
            </div>
            // Outside the live region: a countdown read out every second is noise.
            <Show when=move || countdown().is_some()>
                <span class="next-try" data-testid="next-try">{text(move || countdown().unwrap_or_default())}</span>
            </Show>
            <Show when=move || came_back().is_some()>
                <span class="recovery" data-testid="recovery" aria-live="polite">{text(move || came_back().unwrap_or_default())}</span>
            </Show>
            <Show when=move || phase.get() == Phase::Closed>
                <button class="button reconnect" type="button" on:click=move |_| controls.reconnect.run(())>
                    "Reconnect"
                </button>
            </Show>
        </div>
    }
}

/// The stream's figures.
#[component]
pub(super) fn Stats(view: Screen) -> impl IntoView {
    let Screen {
        connection,
        sync,
        rate,
        latency,
        offset,
        ..
    } = view;
    let or_dash = |text: Option<String>| text.unwrap_or_else(|| "—".to_owned());
    view! {
        <dl class="stats">
            <div>
                <dt>"Updates"</dt>
                <dd data-testid="update-rate">{text(move || or_dash(rate.get().map(format::rate)))}</dd>
            </div>
            <div>
                <dt inner_html=server_only(r#"<abbr title="median time from publication on the server to this screen">Latency</abbr>"#)></dt>
                <dd data-testid="latency">{text(move || or_dash(latency.get().map(format::millis)))}</dd>
            </div>
            <div>
                <dt inner_html=server_only(r#"<abbr title="how far the server's clock is ahead of this device's">Clock offset</abbr>"#)></dt>
                <dd data-testid="clock-offset">{text(move || or_dash(offset.get().map(format::signed_millis)))}</dd>
            </div>
            <div>
                <dt>"Reconnects"</dt>
                <dd data-testid="reconnect-count">{text(move || connection.with(|c| c.reconnects.to_string()))}</dd>
            </div>
            <div>
                <dt>"Last event id"</dt>
                <dd data-testid="last-event-id">
                    {text(move || or_dash(sync.with(StreamSync::last).map(|id| id.to_string())))}
                </dd>
            </div>
        </dl>
    }
}

/// The latest notice from the server, such as "server restarting".
#[component]
pub(super) fn NoticeBar(notice: RwSignal<Option<String>>) -> impl IntoView {
    view! {
        <Show when=move || notice.with(Option::is_some)>
            <p class="notice" data-testid="notice" role="status">
                <span class="notice-label">"Server notice: "</span>
                <span class="notice-text">{text(move || notice.get().unwrap_or_default())}</span>
                <button class="notice-dismiss" type="button" aria-label="Dismiss notice"
                    on:click=move |_| notice.set(None)>"×"</button>
            </p>
        </Show>
    }
}
