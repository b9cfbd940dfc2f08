//! The address a request came from: the socket's peer, or, when the peer is a
//! proxy the configuration trusts, the first untrusted hop its
//! `X-Forwarded-For` names (read from the right; see `rongshu_core::net`).

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use rongshu_core::net::{IpBlock, client_address};

const FORWARDED_FOR: &str = "x-forwarded-for";

/// `None` when the server was not started with connection info (a router
/// driven in-process): an allow-list then refuses, it does not guess.
pub fn of(parts: &Parts, trusted: &[IpBlock]) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    if trusted.is_empty() {
        return Some(peer.to_canonical());
    }
    // A header that is not text cannot be checked: it stops the walk at the
    // proxy that sent it, like any entry that is not an address.
    let hops: Vec<&str> = parts
        .headers
        .get_all(FORWARDED_FOR)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("?").split(','))
        .collect();
    Some(client_address(peer, &hops, trusted))
}
