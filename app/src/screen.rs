//! The signals the page is drawn from, and what the viewer can do to the
//! stream.

use crate::{
    model::Symbol,
    sort::Sort,
    status::{Connection, Phase},
    sync::{Recovery, StreamSync},
    table::Table,
    watchlist::Watchlist,
};
use leptos::prelude::*;

/// The signals the page is drawn from.
#[derive(Clone, Copy)]
pub(crate) struct Screen {
    pub(crate) table: Table,
    pub(crate) connection: RwSignal<Connection>,
    pub(crate) phase: Memo<Phase>,
    pub(crate) sync: RwSignal<StreamSync>,
    pub(crate) recovery: RwSignal<Option<Recovery>>,
    pub(crate) notice: RwSignal<Option<String>>,
    /// The viewer's clock in milliseconds: the snapshot's time until hydration,
    /// then ticking.
    pub(crate) clock: RwSignal<f64>,
    /// Server clock minus the viewer's, once a heartbeat told.
    pub(crate) offset: RwSignal<Option<f64>>,
    /// Updates per second received, and the median publish-to-screen latency.
    pub(crate) rate: RwSignal<Option<f64>>,
    pub(crate) latency: RwSignal<Option<f64>>,
    /// When the next reconnection attempt starts (viewer's clock).
    pub(crate) next_try: RwSignal<Option<f64>>,
    /// Whether times are shown in the viewer's time zone (after hydration).
    pub(crate) local_time: RwSignal<bool>,
    pub(crate) sort: RwSignal<Sort>,
    pub(crate) filter: RwSignal<String>,
    pub(crate) symbols: RwSignal<Vec<Symbol>>,
    /// The server's base reconnection delay, from the page (read by the
    /// browser's controller only).
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub(crate) retry_ms: Option<f64>,
    pub(crate) watchlist: RwSignal<Watchlist>,
    /// The rows shown, in the order shown (the filter and the sort applied).
    pub(crate) shown: Memo<Vec<Symbol>>,
    /// The row the keyboard moves through the table: its symbol.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub(crate) selected: RwSignal<Option<String>>,
    /// The symbol whose detail is open (a string, as `selected`: a signal of
    /// a type of its own would cost the first load its generic code).
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub(crate) detail: RwSignal<Option<String>>,
}

/// What the viewer can do to the stream.
#[derive(Clone, Copy)]
pub(crate) struct Controls {
    pub(crate) reconnect: Callback<()>,
    pub(crate) pause: Callback<()>,
    pub(crate) resume: Callback<()>,
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub(crate) watch: Callback<Watchlist>,
}

/// The id of the element that what loads on first use (`crate::detail`:
/// the fired alerts and the detail) is mounted into.
pub(crate) const DIALOGS_ID: &str = "on-first-use";

/// Markup or an attribute only the server writes. The browser finds it in
/// the page and never rewrites it (static attributes and `inner_html` are
/// left as they are while hydrating), so the WASM carries none of it: the
/// legend, the list of keys, the detail's skeleton and the headings' hints
/// are about 1 KB gzip'd of the first load less (`make weight`). Only for
/// what the browser never renders itself: a view built in the browser (not
/// hydrated) would find them empty.
/// (An `Option` attribute is left out in the browser.)
pub(crate) fn server_only<T: Default>(value: T) -> T {
    if cfg!(feature = "ssr") {
        value
    } else {
        T::default()
    }
}

/// The filter box's id (the `/` key goes to it).
pub(crate) const FILTER_ID: &str = "filter";

/// The list of keys' id (a `<dialog>`; the `?` key opens it).
pub(crate) const KEYS_ID: &str = "keys";

/// Reactive text: every piece of text the page updates has this one type, so the
/// bundle carries one copy of the code that renders and updates it (a closure per
/// cell would each bring their own).
pub(crate) fn text(f: impl Fn() -> String + Send + Sync + 'static) -> Signal<String> {
    Signal::derive(f)
}
