//! Opaque random tokens: shown once, stored as SHA-256 hashes, so a copy of
//! the database does not hand out working credentials.

use sha2::{Digest, Sha256};

/// Prefix that makes a leaked token easy to recognise (and to scan for).
const PREFIX: &str = "rst_";

pub fn generate() -> String {
    format!("{PREFIX}{}", hex::encode(rand::random::<[u8; 32]>()))
}

/// Characters of a token kept in plain to recognise it by: the marker and
/// eight hex digits (32 of its 256 random bits).
const SHOWN_CHARS: usize = PREFIX.len() + 8;

/// The recognisable start of a token, as key lists show it.
pub fn prefix(token: &str) -> String {
    token.chars().take(SHOWN_CHARS).collect()
}

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A random value for CSRF fields and session ids.
pub fn random_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}
