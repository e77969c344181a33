//! Who is calling: `Authorization: Bearer <token>` checked against the stored
//! tokens and their [`Role`], or a console session (the `herald_session`
//! cookie), which must also carry its CSRF token on every request that changes
//! something (`X-CSRF-Token`, or the `csrf` field of a console form). Each
//! endpoint names the [`Access`] it needs through its extractor
//! ([`Needs`]`<ToRead>`, `<ToDispatch>`, `<ToSupervise>`).
//!
//! A node keeps what it read of a token for [`FRESH`] (half a second), so an
//! IVR polling thousands of times a second costs one database read per token
//! per half second, and a token revoked on any node (or by `herald token
//! revoke`) stops working everywhere within that time (and the one read; the
//! requests that arrive while it is under way go on with the last one). Expiry
//! is checked on every request against the application's clock. The last use
//! is written at most once per [`USE_RECORDED`] per token and node, for
//! `herald token list`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;

use super::client::ClientAddr;
use super::AppState;
use crate::auth::{hash_token, token_digest, Access, Role};
use crate::domain::audit::Actor;
use crate::error::{Error, Result};
use crate::store::{EndSessions, SessionRow, TokenGrant};

/// The console session's cookie.
pub const SESSION_COOKIE: &str = "herald_session";
/// The header a script sends the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How often a session's last use is written (its idle expiry is this coarse).
const SEEN_RECORDED: chrono::Duration = chrono::Duration::minutes(1);

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
    /// Since when a request has been re-reading it (see [`Credentials::lookup`]).
    rereading: Option<Instant>,
}

/// What [`Credentials::lookup`] found for a token.
enum Lookup {
    /// What this node read of it: fresh, or past [`FRESH`] while another
    /// request re-reads it.
    Known(Option<TokenGrant>),
    /// This request is to read it.
    Read,
}

/// How long a token past [`FRESH`] is still taken as last read while another
/// request re-reads it; older than this, every request reads it.
const STALE_LIMIT: Duration = Duration::from_secs(5);

/// A token as this node keys what it read of it (see [`token_digest`]).
type Digest = [u8; 32];

/// The tokens this node has read recently, by digest.
#[derive(Default)]
pub struct Credentials(Mutex<HashMap<Digest, Seen>>);

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
    /// The grant of the request's bearer token if it may do what `needed`
    /// asks: 401 without a valid token, 403 for a valid one of another role.
    pub async fn check(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        needed: Access,
    ) -> Result<TokenGrant> {
        let grant = self.grant(state, headers).await?;
        if !grant.role.grants(needed) {
            return Err(Error::Forbidden(format!(
                "this token's role ({}) does not allow this ({} access)",
                grant.role,
                needed.as_str()
            )));
        }
        Ok(grant)
    }

    /// The grant of the request's bearer token, whatever its role: 401
    /// without a valid one.
    pub async fn grant(&self, state: &AppState, headers: &HeaderMap) -> Result<TokenGrant> {
        let digest = token_digest(bearer(headers)?);
        let grant = match self.lookup(&digest) {
            Lookup::Known(grant) => grant,
            Lookup::Read => {
                let read = state.store.token_grant(&hex::encode(digest)).await;
                let mut seen = self.0.lock().expect("credentials");
                let grant = match read {
                    Ok(grant) => grant,
                    Err(e) => {
                        // The next request reads it again.
                        if let Some(s) = seen.get_mut(&digest) {
                            s.rereading = None;
                        }
                        return Err(e);
                    }
                };
                if seen.len() >= REMEMBERED {
                    seen.clear();
                }
                let use_recorded = seen.get(&digest).and_then(|s| s.use_recorded);
                seen.insert(
                    digest,
                    Seen {
                        grant: grant.clone(),
                        read_at: Instant::now(),
                        use_recorded,
                        rereading: None,
                    },
                );
                grant
            }
        };
        let now = state.clock.now();
        let grant = grant
            .filter(|g| g.expires_at.is_none_or(|t| now < t))
            .ok_or(Error::Unauthorized)?;
        if self.record_use(&digest) {
            if let Err(e) = state.store.token_used(grant.id, now).await {
                tracing::warn!(error = %e, "could not record a token's last use");
            }
        }
        Ok(grant)
    }

    /// Whether the token is known or this request reads it. Past [`FRESH`],
    /// one request re-reads it and the others go on with what was read
    /// meanwhile: in a storm, every request in flight (an IVR keeps dozens)
    /// read it at once each time it went stale, and with the database busy
    /// they all waited together. A request that has been re-reading for
    /// [`FRESH`] without an answer (one cancelled mid-read) is taken over.
    fn lookup(&self, digest: &Digest) -> Lookup {
        let mut seen = self.0.lock().expect("credentials");
        let Some(s) = seen.get_mut(digest) else {
            return Lookup::Read;
        };
        let age = s.read_at.elapsed();
        if age < FRESH {
            return Lookup::Known(s.grant.clone());
        }
        if age < STALE_LIMIT && s.rereading.is_some_and(|t| t.elapsed() < FRESH) {
            return Lookup::Known(s.grant.clone());
        }
        s.rereading = Some(Instant::now());
        Lookup::Read
    }

    /// Whether this request should write the token's last use (and notes that
    /// it will).
    fn record_use(&self, digest: &Digest) -> bool {
        let mut seen = self.0.lock().expect("credentials");
        match seen.get_mut(digest) {
            Some(s) if s.use_recorded.is_none_or(|t| t.elapsed() >= USE_RECORDED) => {
                s.use_recorded = Some(Instant::now());
                true
            }
            _ => false,
        }
    }
}

/// An authenticated caller: a token's or a signed-in operator's.
#[derive(Debug, Clone)]
pub struct Caller {
    pub role: Role,
    /// Who the audit log names, and from where.
    pub actor: Actor,
    /// The token, for a token's caller (idempotency keys are per token).
    pub token_id: Option<i64>,
    /// The session, for a console caller.
    pub session: Option<Session>,
}

/// A valid console session.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub csrf: String,
    pub operator_id: i64,
    pub username: String,
    pub role: Role,
}

impl Caller {
    fn from_grant(grant: TokenGrant, client: Option<String>) -> Caller {
        let actor = match &grant.operator {
            Some((id, username)) => Actor {
                operator_id: Some(*id),
                token_id: Some(grant.id),
                name: format!("{username} (token {})", grant.name),
                client,
            },
            None => Actor {
                operator_id: None,
                token_id: Some(grant.id),
                name: format!("token:{}", grant.name),
                client,
            },
        };
        Caller {
            role: grant.role,
            actor,
            token_id: Some(grant.id),
            session: None,
        }
    }

    fn from_session(session: Session, client: Option<String>) -> Caller {
        Caller {
            role: session.role,
            actor: Actor {
                operator_id: Some(session.operator_id),
                token_id: None,
                name: session.username.clone(),
                client,
            },
            token_id: None,
            session: Some(session),
        }
    }

    /// 403 unless the caller's role grants `needed`.
    pub fn require(&self, needed: Access) -> Result<()> {
        if self.role.grants(needed) {
            return Ok(());
        }
        Err(Error::Forbidden(format!(
            "the {} role does not allow this ({} access)",
            self.role,
            needed.as_str()
        )))
    }

    /// The caller of a request: its bearer token if it has an `Authorization`
    /// header, else its console session. A session's request that changes
    /// something must carry the CSRF token in [`CSRF_HEADER`], unless
    /// `csrf_in_form` (a console form, whose handler checks its `csrf` field).
    pub async fn of(state: &AppState, parts: &Parts, csrf_in_form: bool) -> Result<Caller> {
        let client = client_text(state, parts);
        if parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
        {
            let grant = state.credentials.grant(state, &parts.headers).await?;
            return Ok(Caller::from_grant(grant, client));
        }
        let session = current_session(state, &parts.headers)
            .await?
            .ok_or(Error::Unauthorized)?;
        if !parts.method.is_safe() && !csrf_in_form {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            check_csrf(&session, sent)?;
        }
        Ok(Caller::from_session(session, client))
    }
}

/// 403 unless `sent` is the session's CSRF token (compared in constant time).
pub fn check_csrf(session: &Session, sent: Option<&str>) -> Result<()> {
    use subtle::ConstantTimeEq;
    match sent {
        Some(sent) if bool::from(sent.as_bytes().ct_eq(session.csrf.as_bytes())) => Ok(()),
        _ => Err(Error::Forbidden(
            "the request's CSRF token is missing or wrong (X-CSRF-Token, or the form's csrf \
             field); reload the page"
                .into(),
        )),
    }
}

/// The client's address as text, for the audit log.
fn client_text(state: &AppState, parts: &Parts) -> Option<String> {
    ClientAddr::of(parts, state).ok().map(|c| c.0.to_string())
}

/// The value of cookie `name` in the request's `Cookie` headers (every line;
/// the first pair of that name). The language cookie and the console's are
/// read through it.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The request's console session, if its cookie names one that is still valid:
/// not signed out, its operator not disabled, used within the idle time and
/// younger than the longest session. An expired one is deleted.
pub async fn current_session(state: &AppState, headers: &HeaderMap) -> Result<Option<Session>> {
    let Some(id) = cookie(headers, SESSION_COOKIE).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let id_hash = hash_token(id);
    let Some(row) = state.store.session(&id_hash).await? else {
        return Ok(None);
    };
    let now = state.clock.now();
    if !session_valid(&row, &state.config.console, now) {
        state
            .store
            .end_sessions(EndSessions::One(&id_hash), None, now)
            .await?;
        return Ok(None);
    }
    if now - row.seen_at >= SEEN_RECORDED {
        state.store.session_seen(&id_hash, now).await?;
    }
    Ok(Some(Session {
        id_hash,
        csrf: row.csrf,
        operator_id: row.operator_id,
        username: row.username,
        role: row.role,
    }))
}

/// Whether a stored session may still be used at `now`.
pub fn session_valid(
    row: &SessionRow,
    config: &crate::config::ConsoleConfig,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    let idle = chrono::Duration::minutes(config.session_idle_minutes.into());
    let longest = chrono::Duration::hours(config.session_max_hours.into());
    !row.disabled && now - row.seen_at < idle && now - row.created_at < longest
}

/// What an endpoint needs, as a type: see [`Needs`].
pub trait Need {
    const ACCESS: Access;
}
/// Reading (viewers and up).
pub struct ToRead;
/// Changing outages (dispatchers and up).
pub struct ToDispatch;
/// Operators, tokens, imports, the audit log (supervisors).
pub struct ToSupervise;
impl Need for ToRead {
    const ACCESS: Access = Access::Read;
}
impl Need for ToDispatch {
    const ACCESS: Access = Access::Dispatch;
}
impl Need for ToSupervise {
    const ACCESS: Access = Access::Supervise;
}

/// A caller whose role grants `N`: 401 without a credential, 403 with one
/// whose role does not (or a session's change without its CSRF token).
pub struct Needs<N: Need>(pub Caller, pub std::marker::PhantomData<N>);

impl<N: Need> FromRequestParts<Arc<AppState>> for Needs<N> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self> {
        let caller = Caller::of(state, parts, false).await?;
        caller.require(N::ACCESS)?;
        Ok(Needs(caller, std::marker::PhantomData))
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

    /// What was read of token "t", `age` ago, with a re-read under way since
    /// `rereading` ago.
    fn seen(age: Duration, rereading: Option<Duration>) -> Credentials {
        let ago = |d: Duration| {
            Instant::now()
                .checked_sub(d)
                .expect("an instant that long ago")
        };
        let credentials = Credentials::default();
        credentials.0.lock().unwrap().insert(
            token_digest("t"),
            Seen {
                grant: None,
                read_at: ago(age),
                use_recorded: None,
                rereading: rereading.map(ago),
            },
        );
        credentials
    }

    #[test]
    fn one_request_re_reads_a_stale_token_while_the_others_go_on() {
        let read = |c: &Credentials| matches!(c.lookup(&token_digest("t")), Lookup::Read);
        assert!(read(&Credentials::default()), "never read");
        assert!(!read(&seen(Duration::ZERO, None)), "fresh");
        let stale = seen(FRESH * 2, None);
        assert!(read(&stale), "the first request past FRESH reads it");
        assert!(!read(&stale), "the next ones go on with the last read");
        assert!(
            read(&seen(FRESH * 2, Some(FRESH * 2))),
            "a re-read abandoned"
        );
        assert!(
            read(&seen(STALE_LIMIT * 2, Some(Duration::ZERO))),
            "too old"
        );
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
