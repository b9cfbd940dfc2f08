//! Webhook signatures: HMAC-SHA256 over `"{timestamp}.{body}"` with the
//! subscription's secret, sent as `X-Rongshu-Signature: sha256=<hex>`. The
//! timestamp is signed too, so a receiver can refuse an old message replayed.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const TIMESTAMP_HEADER: &str = "x-rongshu-timestamp";
pub const SIGNATURE_HEADER: &str = "x-rongshu-signature";

/// The `X-Rongshu-Signature` value for a body sent at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let s = sign("whsec_x", 1_700_000_000, "{}");
        assert!(s.starts_with("sha256=") && s.len() == 7 + 64);
        assert_eq!(s, sign("whsec_x", 1_700_000_000, "{}"));
        assert_ne!(s, sign("whsec_x", 1_700_000_001, "{}"));
        assert_ne!(s, sign("whsec_x", 1_700_000_000, "{ }"));
        assert_ne!(s, sign("whsec_y", 1_700_000_000, "{}"));
    }
}
