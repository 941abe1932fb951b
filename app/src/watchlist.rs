//! The viewer's watchlist: the symbols they chose to see.
//!
//! The browser keeps it in `localStorage` (the source of truth) and mirrors it
//! in a cookie, so the server renders the first HTML with the same rows and
//! hydration changes nothing. The stream is opened with `?symbols=` of the
//! watchlist, so unwatched symbols are not sent at all.

use crate::model::Symbol;
use serde::{Deserialize, Serialize};

/// The `localStorage` key holding the watchlist.
pub const STORAGE_KEY: &str = "tickertape.watchlist";

/// The cookie mirroring it for the server.
pub const COOKIE: &str = "tickertape_watchlist";

/// Separates symbols in the stored text (`.` and `-` occur in symbols; `,` is
/// not allowed in a cookie value).
const SEPARATOR: char = '_';

/// The longest stored form read, in bytes: a browser keeps at most 4096 bytes
/// per cookie, so a longer watchlist cookie was not written by the dashboard.
pub const MAX_STORED: usize = 4096;

/// `symbols` sorted, without duplicates. On the server (which reads the
/// cookie of any request) in O(n log n); in the browser, which reads only its
/// own watchlist, by insertion: the standard sort would weigh more in the
/// bundle than these few lines.
fn sorted(symbols: impl IntoIterator<Item = Symbol>) -> Vec<Symbol> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let mut set: Vec<Symbol> = symbols.into_iter().collect();
        set.sort_unstable();
        set.dedup();
        set
    }
    #[cfg(target_arch = "wasm32")]
    sorted_by_insertion(symbols)
}

#[cfg(any(target_arch = "wasm32", test))]
fn sorted_by_insertion(symbols: impl IntoIterator<Item = Symbol>) -> Vec<Symbol> {
    let mut set: Vec<Symbol> = Vec::new();
    for symbol in symbols {
        if let Err(at) = set.binary_search(&symbol) {
            set.insert(at, symbol);
        }
    }
    set
}

/// The symbols to watch: every symbol (the default), or a chosen set, kept
/// sorted and without duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watchlist(Option<Vec<Symbol>>);

impl Watchlist {
    /// Watches only `symbols` (all of them when there are none).
    pub fn only(symbols: impl IntoIterator<Item = Symbol>) -> Self {
        let set = sorted(symbols);
        Self((!set.is_empty()).then_some(set))
    }

    /// Reads the stored form, `AAPL_MSFT`; anything that is not a symbol is
    /// skipped, and nothing valid means every symbol. A text longer than
    /// [`MAX_STORED`] (which no browser keeps in a cookie) is ignored whole.
    pub fn parse(text: &str) -> Self {
        if text.len() > MAX_STORED {
            return Self::default();
        }
        Self::only(text.split(SEPARATOR).filter_map(|s| s.trim().parse().ok()))
    }

    /// The stored form (empty when every symbol is watched).
    pub fn stored(&self) -> String {
        self.join(SEPARATOR)
    }

    /// The `symbols` query parameter for the stream, or `None` for all.
    pub fn query(&self) -> Option<String> {
        self.0.as_ref().map(|_| self.join(','))
    }

    /// Whether `symbol` is watched.
    pub fn watches(&self, symbol: &Symbol) -> bool {
        self.0.as_ref().is_none_or(|set| set.contains(symbol))
    }

    /// Whether every symbol is watched.
    pub fn is_all(&self) -> bool {
        self.0.is_none()
    }

    /// Starts or stops watching `symbol`, out of `all` the symbols there are.
    /// The last watched symbol cannot be unwatched (an empty table streams
    /// nothing and helps nobody); watching every symbol is the default again.
    #[must_use]
    pub fn toggled(&self, symbol: &Symbol, all: &[Symbol]) -> Self {
        let mut set: Vec<Symbol> = match &self.0 {
            Some(set) => set.clone(),
            None => all.to_vec(),
        };
        match set.iter().position(|s| s == symbol) {
            Some(i) => _ = set.remove(i),
            None => set.push(symbol.clone()),
        }
        if set.is_empty() {
            return self.clone();
        }
        if all.iter().all(|s| set.contains(s)) {
            return Self::default();
        }
        Self::only(set)
    }

    /// The watchlist's checkboxes for the symbols `all`, as markup: a
    /// labelled box per symbol, ticked when watched, disabled when it is the
    /// last one watched (a watchlist is never empty). Symbols are capital
    /// letters, digits, `.` and `-`: nothing to escape.
    pub fn checkboxes(&self, all: &[Symbol]) -> String {
        let mut markup = String::with_capacity(all.len() * 80);
        for symbol in all {
            markup.push_str("<label class=\"watch\"><input type=\"checkbox\" data-symbol=\"");
            markup.push_str(symbol.as_str());
            markup.push('"');
            if self.watches(symbol) {
                markup.push_str(" checked");
            }
            if self.is_last(symbol) {
                markup.push_str(" disabled");
            }
            markup.push('>');
            markup.push_str(symbol.as_str());
            markup.push_str("</label>");
        }
        markup
    }

    /// Whether `symbol` is the only one watched (so it cannot be unwatched).
    pub fn is_last(&self, symbol: &Symbol) -> bool {
        self.0
            .as_ref()
            .is_some_and(|set| set.len() == 1 && set.contains(symbol))
    }

    fn join(&self, separator: char) -> String {
        let mut text = String::new();
        for symbol in self.0.iter().flatten() {
            if !text.is_empty() {
                text.push(separator);
            }
            text.push_str(symbol.as_str());
        }
        text
    }
}

/// The watchlist cookie's value in a `Cookie` request header, if any.
pub fn from_cookie_header(header: &str) -> Option<Watchlist> {
    header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == COOKIE).then(|| Watchlist::parse(value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbols(names: &[&str]) -> Vec<Symbol> {
        names.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn the_boxes_are_ticked_as_watched_and_the_last_one_cannot_be_unticked() {
        let all = symbols(&["AAPL", "BRK.B", "MSFT"]);
        assert_eq!(
            Watchlist::only(symbols(&["BRK.B"])).checkboxes(&all),
            "<label class=\"watch\"><input type=\"checkbox\" data-symbol=\"AAPL\">AAPL</label>\
             <label class=\"watch\"><input type=\"checkbox\" data-symbol=\"BRK.B\" checked disabled>BRK.B</label>\
             <label class=\"watch\"><input type=\"checkbox\" data-symbol=\"MSFT\">MSFT</label>"
        );
        assert_eq!(
            Watchlist::default().checkboxes(&all[..1]),
            "<label class=\"watch\"><input type=\"checkbox\" data-symbol=\"AAPL\" checked>AAPL</label>"
        );
    }

    #[test]
    fn stored_and_query_forms() {
        let list = Watchlist::only(symbols(&["MSFT", "BRK.B", "AAPL"]));
        assert_eq!(list.stored(), "AAPL_BRK.B_MSFT");
        assert_eq!(list.query().as_deref(), Some("AAPL,BRK.B,MSFT"));
        assert_eq!(Watchlist::parse(&list.stored()), list);
        assert_eq!(Watchlist::default().query(), None);
        assert_eq!(Watchlist::parse("aapl_??_"), Watchlist::default());
        assert_eq!(
            Watchlist::parse("KO_bad"),
            Watchlist::only(symbols(&["KO"]))
        );
    }

    #[test]
    fn toggling_never_empties_the_list_and_all_is_the_default() {
        let all = symbols(&["AAPL", "KO", "MSFT"]);
        let list = Watchlist::default().toggled(&all[1], &all);
        assert_eq!(list, Watchlist::only(symbols(&["AAPL", "MSFT"])));
        assert!(!list.watches(&all[1]));
        let list = list.toggled(&all[0], &all);
        assert!(list.is_last(&all[2]));
        assert_eq!(list.toggled(&all[2], &all), list, "the last one stays");
        let list = list.toggled(&all[0], &all).toggled(&all[1], &all);
        assert!(list.is_all());
    }

    #[test]
    fn both_sorts_agree() {
        let list = symbols(&["MSFT", "KO", "AAPL", "KO", "BRK.B", "A", "MSFT"]);
        assert_eq!(sorted(list.clone()), sorted_by_insertion(list));
    }

    #[test]
    fn a_cookie_no_browser_could_keep_is_ignored_in_linear_time() {
        // 380 KiB of distinct symbols: once 0.7-1.0 s of CPU per request.
        let mut text = String::new();
        let mut n = 0u32;
        while text.len() < 380 * 1024 {
            text.push_str(&format!("S{n}_"));
            n += 1;
        }
        let started = std::time::Instant::now();
        assert!(Watchlist::parse(&text).is_all());
        // At the limit, the longest a browser could send, it is read in full.
        let cut = &text[..text[..MAX_STORED].rfind('_').unwrap()];
        let list = Watchlist::parse(cut);
        assert_eq!(list.stored().len(), cut.len());
        assert!(
            started.elapsed() < std::time::Duration::from_millis(50),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let header = "theme=dark; tickertape_watchlist=AAPL_KO; other=1";
        assert_eq!(
            from_cookie_header(header),
            Some(Watchlist::only(symbols(&["AAPL", "KO"])))
        );
        assert_eq!(from_cookie_header("theme=dark"), None);
    }
}
