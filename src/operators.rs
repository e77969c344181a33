//! Operator accounts and signing in: what `herald operator …` and the
//! console's sign-in page do, over the store.
//!
//! Signing in is slowed down per account and per client address
//! ([`crate::domain::operator::Lockout`]): while either is locked, even the
//! right password is refused, with the same message as a wrong one, so a
//! lock-out tells a guesser nothing. An unknown username costs a password
//! check too, so timing does not tell which names exist.

use chrono::{DateTime, Utc};

use crate::auth::{self, Role, ServerKey};
use crate::domain::audit::{Action, Actor, Entry};
use crate::domain::operator::{self, Username};
use crate::error::{Error, Result};
use crate::store::{AccountChange, NewOperator, NewSession, Store};

/// Creates an operator account; the password is checked and hashed here.
pub async fn create(
    store: &Store,
    username: &str,
    role: Role,
    password: String,
    by: &Actor,
    now: DateTime<Utc>,
) -> Result<i64> {
    let username = Username::parse(username).map_err(|e| Error::invalid("username", e))?;
    if !role.for_operators() {
        return Err(Error::invalid(
            "role",
            "an operator is a viewer, a dispatcher or a supervisor",
        ));
    }
    let password_hash = hash(password).await?;
    let op = NewOperator {
        username: &username,
        role,
        password_hash: &password_hash,
        now,
    };
    store.create_operator(&op, by).await
}

/// Sets a new password and ends every session of the account.
pub async fn reset_password(
    store: &Store,
    username: &str,
    password: String,
    by: &Actor,
    now: DateTime<Utc>,
) -> Result<()> {
    let username = Username::parse(username).map_err(|e| Error::invalid("username", e))?;
    let hash = hash(password).await?;
    change(store, &username, AccountChange::Password(&hash), by, now).await
}

/// Disables an account: its sessions end and its tokens stop working.
pub async fn disable(store: &Store, username: &str, by: &Actor, now: DateTime<Utc>) -> Result<()> {
    let username = Username::parse(username).map_err(|e| Error::invalid("username", e))?;
    change(store, &username, AccountChange::Disable, by, now).await
}

async fn change(
    store: &Store,
    username: &Username,
    change: AccountChange<'_>,
    by: &Actor,
    now: DateTime<Utc>,
) -> Result<()> {
    if store.change_operator(username, change, by, now).await? {
        Ok(())
    } else {
        Err(Error::NotFound(format!("operator '{username}'")))
    }
}

/// Checks and hashes a new password, off the async threads (argon2 is slow
/// on purpose).
async fn hash(password: String) -> Result<String> {
    auth::check_password(&password).map_err(|e| Error::invalid("password", e))?;
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| Error::Internal(e.into()))
}

/// A new session: the cookie's value (shown to the browser only) and the CSRF
/// token its pages carry.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session_id: String,
    pub csrf: String,
    pub username: String,
}

/// Why a sign-in was refused: the same to the user whatever the reason.
pub const REFUSED: &str = "wrong username or password, or too many tries: wait a minute";

/// Signs in: checks the lock-outs, then the password; on success stores a
/// session. `client` is the client's address as limits count it.
pub async fn sign_in(
    store: &Store,
    key: &ServerKey,
    username: &str,
    password: &str,
    client: Option<String>,
    now: DateTime<Utc>,
) -> Result<SignedIn> {
    let refused = || Error::Unauthorized;
    let name = Username::parse(username).ok();
    let account_key = format!("account:{}", name.as_ref().map_or("", |n| n.as_str()));
    // Only a keyed hash of the address is stored.
    let client_key = format!(
        "client:{}",
        key.sign("sign-in client", client.as_deref().unwrap_or(""))
    );
    let locked = store
        .sign_in_failures(&[&account_key, &client_key])
        .await?
        .iter()
        .any(|f| f.locked_until.is_some_and(|t| t > now));
    if locked {
        // Neither checked nor counted: a locked key costs no password check
        // and writes nothing, however often it is tried.
        return Err(refused());
    }
    let login = match &name {
        Some(n) => store.operator_login(n).await?,
        None => None,
    };
    let hash = login.as_ref().map(|l| l.password_hash.clone());
    let password = password.to_string();
    let matches =
        tokio::task::spawn_blocking(move || auth::verify_password(&password, hash.as_deref()))
            .await
            .map_err(|e| Error::Internal(e.into()))?;
    let actor = |login: Option<&crate::store::OperatorLogin>| Actor {
        operator_id: login.map(|l| l.id),
        token_id: None,
        name: login.map_or_else(
            || name.as_ref().map_or("?".into(), |n| n.to_string()),
            |l| l.username.clone(),
        ),
        client: client.clone(),
    };
    match login {
        Some(login) if matches && !login.disabled => {
            store.sign_in_cleared(&account_key).await?;
            let session_id = auth::random_token(32);
            let csrf = auth::random_token(32);
            let session = NewSession {
                id_hash: &auth::hash_token(&session_id),
                operator_id: login.id,
                csrf: &csrf,
                now,
            };
            store.create_session(&session, &actor(Some(&login))).await?;
            Ok(SignedIn {
                session_id,
                csrf,
                username: login.username,
            })
        }
        login => {
            let keys = [
                (account_key.as_str(), operator::ACCOUNT),
                (client_key.as_str(), operator::CLIENT),
            ];
            store.sign_in_failed(&keys, now).await?;
            let entry = Entry {
                at: now,
                actor: &actor(login.as_ref()),
                action: Action::SignInFailed,
                subject: None,
                details: serde_json::json!({
                    "known": login.is_some(),
                    "disabled": login.as_ref().is_some_and(|l| l.disabled),
                }),
            };
            store.append_audit(&entry).await?;
            Err(refused())
        }
    }
}
