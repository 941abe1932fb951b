//! Tokens (`--publish-token`, `--viewer-token`): read, checked, compared in
//! constant time, and never shown.

use sha2::{Digest, Sha256};
use std::{fmt, sync::Arc};
use subtle::ConstantTimeEq;

/// A token from the configuration. It never appears in logs or `Debug` output,
/// and is compared in constant time.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Whether `offered` is this secret, in time that does not depend on where
    /// they differ (both are hashed first, so not on their lengths either).
    pub fn matches(&self, offered: &[u8]) -> bool {
        let expected = Sha256::digest(self.0.as_bytes());
        let offered = Sha256::digest(offered);
        expected.ct_eq(&offered).into()
    }

    /// The secret's text, for setting it in a cookie or a header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Reads a token: 16 or more characters that need no escaping anywhere.
pub fn parse_token(text: &str) -> Result<Secret, String> {
    let text = text.trim();
    // Tokens travel in headers, cookies and query strings: keep them to characters
    // that need no escaping in any of them.
    let valid = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    if text.len() < 16 {
        return Err("a token must be at least 16 characters long".into());
    }
    if !text.chars().all(valid) {
        return Err("a token may only hold A-Z a-z 0-9 and - . _ ~ + / =".into());
    }
    Ok(Secret(text.into()))
}
