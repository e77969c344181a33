//! Credentials: API tokens, operator passwords, roles. A token or a session id
//! is shown once; only its SHA-256 is stored, and a password only as its argon2
//! hash, so a database leak leaks no working credential. Every caller has a
//! [`Role`], and every endpoint names the [`Access`] it needs.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub use crate::domain::token::random_token;

/// Who may do what: an operator's role in the console, or the role of a token
/// that belongs to no operator (`operator`, `ivr`). A token that belongs to an
/// operator acts with that operator's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything the console shows; changes nothing.
    Viewer,
    /// Also declares, updates, restores and cancels outages.
    Dispatcher,
    /// Also manages operators, tokens and imports, and reads the audit log.
    Supervisor,
    /// A token made without an operator (every token made before operator
    /// accounts existed): everything, as it always could.
    Operator,
    /// The phone platform: IVR answers keyed by a caller's number and the
    /// "press 2" SMS. Nothing on the operator API.
    Ivr,
}

/// What an endpoint needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading outages, deliveries, previews.
    Read,
    /// Changing outages.
    Dispatch,
    /// Operators, tokens, imports, the audit log.
    Supervise,
    /// The IVR's answers by caller number.
    Ivr,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Dispatch => "dispatch",
            Access::Supervise => "supervise",
            Access::Ivr => "ivr",
        }
    }
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Dispatcher,
        Role::Supervisor,
        Role::Operator,
        Role::Ivr,
    ];
    /// The roles an operator account can have.
    pub const OPERATOR_ROLES: [Role; 3] = [Role::Viewer, Role::Dispatcher, Role::Supervisor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Dispatcher => "dispatcher",
            Role::Supervisor => "supervisor",
            Role::Operator => "operator",
            Role::Ivr => "ivr",
        }
    }

    /// Whether this role may do what `needed` asks. A viewer does not hear IVR
    /// answers by caller number: those name a person's address.
    pub fn grants(self, needed: Access) -> bool {
        match self {
            Role::Supervisor | Role::Operator => true,
            Role::Dispatcher => needed != Access::Supervise,
            Role::Viewer => needed == Access::Read,
            Role::Ivr => needed == Access::Ivr,
        }
    }

    /// Whether an operator account can have this role.
    pub fn for_operators(self) -> bool {
        Role::OPERATOR_ROLES.contains(&self)
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown role '{s}' (expected viewer, dispatcher, supervisor, operator or ivr)"
                )
            })
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The shortest password an operator may have.
pub const MIN_PASSWORD: usize = 10;

/// Checks a new password: 10 to 1,024 characters, not only spaces.
pub fn check_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if !(MIN_PASSWORD..=1024).contains(&n) || password.trim().is_empty() {
        return Err(format!(
            "a password is {MIN_PASSWORD} to 1,024 characters (this one has {n})"
        ));
    }
    Ok(())
}

/// The argon2id hash of `password` (a PHC string: algorithm, parameters, salt
/// and hash), with the crate's default cost (19 MiB, 2 passes, about 25 ms).
/// Slow on purpose: run it on a blocking thread.
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a salt");
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password")
        .to_string()
}

/// Whether `password` matches a hash made by [`hash_password`]. Without a hash
/// (an unknown username) it checks against a fixed one, so that an unknown
/// name costs as long as a wrong password and timing tells nothing.
pub fn verify_password(password: &str, hash: Option<&str>) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    static UNKNOWN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let known = hash.is_some();
    let hash = hash.unwrap_or_else(|| UNKNOWN.get_or_init(|| hash_password("no such operator")));
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && known
}

/// A new token: `hrld_` and 32 random bytes.
pub fn new_api_token() -> String {
    format!("hrld_{}", random_token(32))
}

/// A token (or session id) as stored: the hex of its [`token_digest`].
pub fn hash_token(token: &str) -> String {
    hex::encode(token_digest(token))
}

/// The SHA-256 of a token, surrounding whitespace ignored: what a node keys
/// the tokens it has read by, without writing out the hex on every request.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.trim().as_bytes()).into()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The deployment's keyed hash, shared by every node (see
/// `Database::server_key`), domain-separated by a purpose string. It signs
/// links Herald hands to an authenticated client so that following them later
/// needs no credential of its own (the "press 2" URL inside a VoiceXML answer,
/// which a VoiceXML browser fetches without our bearer header), and turns
/// client addresses into keys for per-client limits without storing them.
#[derive(Clone)]
pub struct ServerKey(Vec<u8>);

impl ServerKey {
    pub fn new(secret: &str) -> ServerKey {
        ServerKey(secret.as_bytes().to_vec())
    }

    fn mac(&self, purpose: &str, subject: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(subject.as_bytes());
        mac
    }

    /// The signature of `subject` for `purpose`, as 32 hex digits (128 bits).
    pub fn sign(&self, purpose: &str, subject: &str) -> String {
        hex::encode(&self.mac(purpose, subject).finalize().into_bytes()[..16])
    }

    /// A destination as the suppressions hold it (a number that texted STOP,
    /// a deleted person's address): its keyed hash, never itself.
    pub fn suppression(&self, channel: crate::domain::Channel, destination: &str) -> String {
        self.sign(
            "suppressed destination",
            &format!("{channel}:{destination}"),
        )
    }

    /// A number that texted Herald, as the inbound log holds it.
    pub fn sms_sender(&self, number: &str) -> String {
        self.sign("sms sender", number)
    }

    /// Constant-time check of a signature made by [`ServerKey::sign`].
    pub fn verify(&self, purpose: &str, subject: &str, signature: &str) -> bool {
        match hex::decode(signature) {
            Ok(bytes) if bytes.len() == 16 => self
                .mac(purpose, subject)
                .verify_truncated_left(&bytes)
                .is_ok(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_hashed() {
        let a = new_api_token();
        assert!(a.starts_with("hrld_") && a.len() == 69);
        assert_ne!(a, new_api_token());
        assert_eq!(hash_token(&a), hash_token(&format!(" {a}\n")));
        assert_ne!(hash_token(&a), a);
    }

    #[test]
    fn links_verify_only_with_their_key_purpose_and_subject() {
        let key = ServerKey::new("k1");
        let sig = key.sign("sms", "+36201234567");
        assert_eq!(sig.len(), 32);
        assert!(key.verify("sms", "+36201234567", &sig));
        assert!(!key.verify("sms", "+36201234568", &sig));
        assert!(!key.verify("other", "+36201234567", &sig));
        assert!(!ServerKey::new("k2").verify("sms", "+36201234567", &sig));
        assert!(!key.verify("sms", "+36201234567", &sig[..30]));
        assert!(!key.verify("sms", "+36201234567", "zz"));
    }

    #[test]
    fn passwords_verify_against_their_own_hash_only() {
        let hash = hash_password("correct horse battery");
        assert!(hash.starts_with("$argon2id$"));
        assert_ne!(hash, hash_password("correct horse battery"), "salted");
        assert!(verify_password("correct horse battery", Some(&hash)));
        assert!(!verify_password("correct horse batterY", Some(&hash)));
        assert!(!verify_password("no such operator", None));
        assert!(!verify_password("x", Some("not a hash")));
        assert!(check_password("short").unwrap_err().contains("10 to 1,024"));
        assert!(check_password("          ").is_err());
        assert!(check_password("long enough now").is_ok());
    }

    #[test]
    fn each_role_grants_exactly_its_row_of_the_table() {
        use Access::*;
        let table = [
            (Role::Viewer, [true, false, false, false]),
            (Role::Dispatcher, [true, true, false, true]),
            (Role::Supervisor, [true, true, true, true]),
            (Role::Operator, [true, true, true, true]),
            (Role::Ivr, [false, false, false, true]),
        ];
        for (role, row) in table {
            for (needed, granted) in [Read, Dispatch, Supervise, Ivr].into_iter().zip(row) {
                assert_eq!(role.grants(needed), granted, "{role} {needed:?}");
            }
        }
        assert_eq!("ivr".parse::<Role>(), Ok(Role::Ivr));
        assert!("admin"
            .parse::<Role>()
            .unwrap_err()
            .contains("operator or ivr"));
        assert!(Role::Dispatcher.for_operators() && !Role::Ivr.for_operators());
    }
}
