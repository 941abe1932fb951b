//! Quoting what a client sent in a message for people: cut short.

/// Cuts `text` to at most `max` characters for quoting it in a message.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
