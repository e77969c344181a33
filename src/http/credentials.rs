//! Who is calling: `Authorization: Bearer <token>` checked against the stored
//! tokens and their [`Role`].
//!
//! A node keeps what it read of a token for [`FRESH`] (half a second), so an
//! IVR polling thousands of times a second costs one database read per token
//! per half second, and a token revoked on any node (or by `herald token
//! revoke`) stops working everywhere within that time. Expiry is checked on
//! every request against the application's clock. The last use is written at
//! most once per [`USE_RECORDED`] per token and node, for `herald token list`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;

use super::AppState;
use crate::auth::{hash_token, Role};
use crate::error::{Error, Result};
use crate::store::TokenGrant;

/// How long a node trusts what it read of a token.
pub const FRESH: Duration = Duration::from_millis(500);
/// How often a node records a token's last use.
const USE_RECORDED: Duration = Duration::from_secs(60);
/// Tokens remembered at most (unknown ones included, so guessing costs the
/// guesser, not the database); emptied when full.
const REMEMBERED: usize = 10_000;

struct Seen {
    grant: Option<TokenGrant>,
    read_at: Instant,
    use_recorded: Option<Instant>,
}

/// The tokens this node has read recently, by hash.
#[derive(Default)]
pub struct Credentials(Mutex<HashMap<String, Seen>>);

fn bearer(headers: &HeaderMap) -> Result<&str> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(Error::Unauthorized)?;
    let (scheme, token) = header.split_once(' ').ok_or(Error::Unauthorized)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(Error::Unauthorized);
    }
    Ok(token)
}

impl Credentials {
    /// The grant of the request's bearer token if it may act as `needed`:
    /// 401 without a valid token, 403 for a valid one of another role.
    pub async fn check(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        needed: Role,
    ) -> Result<TokenGrant> {
        let hash = hash_token(bearer(headers)?);
        let grant = match self.remembered(&hash) {
            Some(grant) => grant,
            None => {
                let grant = state.store.token_grant(&hash).await?;
                let mut seen = self.0.lock().expect("credentials");
                if seen.len() >= REMEMBERED {
                    seen.clear();
                }
                let use_recorded = seen.get(&hash).and_then(|s| s.use_recorded);
                seen.insert(
                    hash.clone(),
                    Seen {
                        grant: grant.clone(),
                        read_at: Instant::now(),
                        use_recorded,
                    },
                );
                grant
            }
        };
        let now = state.clock.now();
        let grant = grant
            .filter(|g| g.expires_at.is_none_or(|t| now < t))
            .ok_or(Error::Unauthorized)?;
        if !grant.role.grants(needed) {
            return Err(Error::Forbidden(format!(
                "this token's role ({}) does not allow the {} endpoints",
                grant.role, needed
            )));
        }
        if self.record_use(&hash) {
            if let Err(e) = state.store.token_used(grant.id, now).await {
                tracing::warn!(error = %e, "could not record a token's last use");
            }
        }
        Ok(grant)
    }

    fn remembered(&self, hash: &str) -> Option<Option<TokenGrant>> {
        let seen = self.0.lock().expect("credentials");
        seen.get(hash)
            .filter(|s| s.read_at.elapsed() < FRESH)
            .map(|s| s.grant.clone())
    }

    /// Whether this request should write the token's last use (and notes that
    /// it will).
    fn record_use(&self, hash: &str) -> bool {
        let mut seen = self.0.lock().expect("credentials");
        match seen.get_mut(hash) {
            Some(s) if s.use_recorded.is_none_or(|t| t.elapsed() >= USE_RECORDED) => {
                s.use_recorded = Some(Instant::now());
                true
            }
            _ => false,
        }
    }
}

/// A caller with an operator token (the id of the token).
pub struct Operator(pub i64);

impl FromRequestParts<Arc<AppState>> for Operator {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Operator> {
        let grant = state
            .credentials
            .check(state, &parts.headers, Role::Operator)
            .await?;
        Ok(Operator(grant.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_the_token_required() {
        assert_eq!(bearer(&headers("Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer(&headers("BEARER abc")).unwrap(), "abc");
        for bad in ["Basic abc", "Bearer", "Bearer  ", "abc"] {
            assert!(bearer(&headers(bad)).is_err(), "{bad}");
        }
        assert!(bearer(&HeaderMap::new()).is_err());
    }
}
