//! Operator API tokens. A token is shown once when created; only its SHA-256 is
//! stored, so a database leak does not leak working credentials.

use sha2::{Digest, Sha256};

pub use crate::domain::token::random_token;

/// A new operator token: `hrld_` and 32 random bytes.
pub fn new_api_token() -> String {
    format!("hrld_{}", random_token(32))
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
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
}
