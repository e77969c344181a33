//! Unguessable tokens (unsubscribe links, confirmation links, API tokens).

use rand::RngCore;

/// `n` random bytes, hex-encoded.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}
