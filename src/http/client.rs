//! Who is asking, for per-client limits: the address that connected, or,
//! when that is a configured trusted proxy (`trusted_proxies`), the address
//! the proxies say they forwarded for (`X-Forwarded-For`, read from the right:
//! the first address no trusted proxy added). A header from anyone else is
//! ignored, so a client cannot pick its own identity.
//!
//! Limits count an IPv6 client by its /64 (one subscriber's allocation; its
//! addresses within it are free to rotate) and an IPv4 client by its address.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

use super::AppState;
use crate::error::{Error, Result};

/// The client's address as limits count it (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// What limits count by: the IPv4 address, or the IPv6 /64 (IPv4-mapped
    /// IPv6 addresses count as the IPv4 address they are).
    pub fn limit_key(&self) -> String {
        match self.0 {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                    format!("{net}/64")
                }
            },
        }
    }
}

/// The client behind `peer`, believing `X-Forwarded-For` only from `trusted`.
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Every header line, in order, each a comma-separated list; the nearest
    // hop is last.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if is_trusted(&ip) => client = ip,
            Some(ip) => return ip,
            // Garbage in the chain: trust nothing before it.
            None => return client,
        }
    }
    client
}

/// An `X-Forwarded-For` entry: an address, maybe with a port (`1.2.3.4:5`,
/// `[2001:db8::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    hop.parse::<SocketAddr>().ok().map(|s| s.ip())
}

impl FromRequestParts<Arc<AppState>> for ClientAddr {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<ClientAddr> {
        ClientAddr::of(parts, state)
    }
}

impl ClientAddr {
    /// The request's client (see the module docs).
    pub fn of(parts: &Parts, state: &AppState) -> Result<ClientAddr> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or_else(|| {
                Error::Internal(anyhow::anyhow!(
                    "the server was started without connection info"
                ))
            })?;
        Ok(ClientAddr(client_addr(
            peer,
            &parts.headers,
            &state.trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append("x-forwarded-for", l.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let spoof = headers(&["203.0.113.9"]);
        // A stranger's header is ignored.
        assert_eq!(
            client_addr(ip("198.51.100.7"), &spoof, &trusted),
            ip("198.51.100.7")
        );
        // Behind our proxy: the address it saw.
        assert_eq!(
            client_addr(ip("10.1.2.3"), &spoof, &trusted),
            ip("203.0.113.9")
        );
        // A client that sends its own header through the proxy gets the
        // proxy's entry (the rightmost untrusted one), not its own invention.
        let chained = headers(&["1.1.1.1, 203.0.113.9", "10.9.9.9"]);
        assert_eq!(
            client_addr(ip("10.1.2.3"), &chained, &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_addr(ip("10.1.2.3"), &headers(&["[2001:db8::1]:443"]), &trusted),
            ip("2001:db8::1")
        );
        // Garbage: the last trusted hop.
        assert_eq!(
            client_addr(ip("10.1.2.3"), &headers(&["1.1.1.1, junk"]), &trusted),
            ip("10.1.2.3")
        );
        // Nothing trusted: always the peer.
        assert_eq!(client_addr(ip("10.1.2.3"), &spoof, &[]), ip("10.1.2.3"));
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let a = ClientAddr(ip("2001:db8:1:2:aaaa::1")).limit_key();
        let b = ClientAddr(ip("2001:db8:1:2:bbbb::7")).limit_key();
        assert_eq!(a, b);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_ne!(a, ClientAddr(ip("2001:db8:1:3::1")).limit_key());
        assert_eq!(ClientAddr(ip("::ffff:192.0.2.1")).limit_key(), "192.0.2.1");
        assert_eq!(ClientAddr(ip("192.0.2.1")).limit_key(), "192.0.2.1");
    }
}
