//! API tokens. A token is shown once when created; only its SHA-256 is
//! stored, so a database leak does not leak working credentials. Each token has
//! a [`Role`] that decides what it may call.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub use crate::domain::token::random_token;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The operator API (`/api/v1`) and everything an IVR token may do.
    Operator,
    /// The phone platform: IVR answers keyed by a caller's number and the
    /// "press 2" SMS. Nothing on the operator API.
    Ivr,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Operator, Role::Ivr];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Ivr => "ivr",
        }
    }

    /// Whether a token of this role may do what `needed` may.
    pub fn grants(self, needed: Role) -> bool {
        self == Role::Operator || self == needed
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role '{s}' (expected operator or ivr)"))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A new token: `hrld_` and 32 random bytes.
pub fn new_api_token() -> String {
    format!("hrld_{}", random_token(32))
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
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
    fn operators_may_do_what_ivr_tokens_may_but_not_the_reverse() {
        assert!(Role::Operator.grants(Role::Ivr));
        assert!(Role::Ivr.grants(Role::Ivr));
        assert!(!Role::Ivr.grants(Role::Operator));
        assert_eq!("ivr".parse::<Role>(), Ok(Role::Ivr));
        assert!("admin"
            .parse::<Role>()
            .unwrap_err()
            .contains("operator or ivr"));
    }
}
