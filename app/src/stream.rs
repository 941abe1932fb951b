//! The browser's `EventSource` on `/events`, feeding the table and the status.
//!
//! Only compiled for the browser (`hydrate`). One [`PriceStream`] is one
//! `EventSource`; dropping it closes the connection and releases its callbacks.

use crate::{
    model::{EventId, PRICE_UPDATE_EVENT, Quote, Snapshot},
    status::Connection,
    table::Table,
};
use leptos::{logging, prelude::*, task::spawn_local};
use wasm_bindgen::{JsCast, closure::Closure};
use web_sys::{Event, EventSource, MessageEvent};

/// Where the dashboard reads the stream and the snapshot.
const EVENTS_URL: &str = "/events";
const SNAPSHOT_URL: &str = "/api/snapshot";

/// The signals a stream writes to.
#[derive(Clone, Copy)]
pub(crate) struct Sinks {
    pub(crate) table: Table,
    pub(crate) connection: RwSignal<Connection>,
    pub(crate) last_event_id: RwSignal<Option<EventId>>,
}

/// An open `EventSource` and the callbacks it calls. Closes on drop.
pub(crate) struct PriceStream {
    source: EventSource,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_error: Closure<dyn FnMut(Event)>,
    _on_update: Closure<dyn FnMut(MessageEvent)>,
}

impl PriceStream {
    /// Opens the stream. The browser reconnects by itself after a network error;
    /// each time it opens again, the rows it missed are filled from `/api/snapshot`.
    pub(crate) fn open(sinks: Sinks) -> Result<Self, wasm_bindgen::JsValue> {
        let source = EventSource::new(EVENTS_URL)?;
        // Connections are numbered from 1 per page: the first open, then each reconnect.
        let connection_number = move || sinks.connection.with_untracked(|c| c.reconnects + 1);

        let on_open = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            sinks.connection.update(Connection::opened);
            let opened = connection_number();
            spawn_local(async move {
                match fetch_snapshot().await {
                    Ok(snapshot) => sinks.table.fill_from_snapshot(snapshot.quotes, opened),
                    Err(error) => logging::warn!("could not load {SNAPSHOT_URL}: {error}"),
                }
            });
        });

        let on_error = {
            let source = source.clone();
            Closure::<dyn FnMut(Event)>::new(move |_: Event| {
                let browser_retries = source.ready_state() == EventSource::CONNECTING;
                sinks.connection.update(|c| c.errored(browser_retries));
            })
        };

        let on_update = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = event.data().as_string().unwrap_or_default();
            match serde_json::from_str::<Quote>(&data) {
                Ok(quote) => sinks.table.apply(quote, connection_number()),
                Err(error) => logging::warn!("ignored a malformed {PRICE_UPDATE_EVENT}: {error}"),
            }
            if let Ok(id) = event.last_event_id().parse() {
                sinks.last_event_id.set(Some(id));
            }
        });

        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        source.add_event_listener_with_callback(
            PRICE_UPDATE_EVENT,
            on_update.as_ref().unchecked_ref(),
        )?;

        Ok(Self {
            source,
            _on_open: on_open,
            _on_error: on_error,
            _on_update: on_update,
        })
    }
}

impl Drop for PriceStream {
    fn drop(&mut self) {
        self.source.close();
        self.source.set_onopen(None);
        self.source.set_onerror(None);
    }
}

async fn fetch_snapshot() -> Result<Snapshot, gloo_net::Error> {
    gloo_net::http::Request::get(SNAPSHOT_URL)
        .send()
        .await?
        .json()
        .await
}
