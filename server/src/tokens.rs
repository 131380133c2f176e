//! Access tokens: 256 random bits, shown once when created; the server keeps only their
//! SHA-256. A token's entropy makes a salted slow hash unnecessary — nobody can guess a
//! token from its hash faster than they could guess the token.

use sha2::{Digest, Sha256};

use crate::store::{StoreError, TokenGrant, TokenStore};

/// Prefix that makes a leaked token recognisable in logs and secret scanners.
const PREFIX: &str = "ast_";

/// Why a token, session or link could not be made or named.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The operating system gave no random bytes: no secret can be made safely.
    #[error("no randomness for a secret: {0}")]
    NoRandomness(getrandom::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a fingerprint is {FINGERPRINT_MIN_DIGITS} to 64 hex digits, as `agentstate token list` prints it")]
    Fingerprint,
}

/// A new random token.
pub fn new_token() -> Result<String, TokenError> {
    secret(PREFIX)
}

/// 256 random bits after `prefix`: tokens, sessions and sign-in links.
pub(crate) fn secret(prefix: &str) -> Result<String, TokenError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(TokenError::NoRandomness)?;
    Ok(format!("{prefix}{}", hex(&bytes)))
}

/// Creates a token for `actor` of `tenant` and records its hash; the token itself is
/// returned once and kept nowhere.
pub fn issue(store: &mut (impl TokenStore + ?Sized), tenant: &str, actor: &str) -> Result<String, TokenError> {
    let token = new_token()?;
    let grant = TokenGrant { tenant: tenant.to_owned(), actor: actor.to_owned() };
    store.put_token(&hash(&token), &grant)?;
    Ok(token)
}

/// What the store keeps of a token.
pub fn hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// How an operator names a token without holding it: the start of its hash, as `token
/// list` prints it and `token revoke --fingerprint` takes it.
pub fn fingerprint(hash: &str) -> &str {
    hash.get(..FINGERPRINT_DIGITS).unwrap_or(hash)
}

/// Digits of the hash `token list` shows (48 bits: collisions only among millions of tokens).
pub const FINGERPRINT_DIGITS: usize = 12;
/// Fewer digits than this are refused by `token revoke`: a typo must not fit a stranger.
pub const FINGERPRINT_MIN_DIGITS: usize = 8;

/// Checks a fingerprint given on the command line.
pub fn parse_fingerprint(text: &str) -> Result<String, TokenError> {
    let digits = text.trim().to_ascii_lowercase();
    if digits.len() < FINGERPRINT_MIN_DIGITS || digits.len() > 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TokenError::Fingerprint);
    }
    Ok(digits)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_only_their_hash_repeats() {
        let (a, b) = (new_token().expect("token"), new_token().expect("token"));
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 64);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
        assert!(!hash(&a).contains(&a[PREFIX.len()..]));
        assert!(hash(&a).starts_with(fingerprint(&hash(&a))));
        assert_eq!(fingerprint(&hash(&a)).len(), FINGERPRINT_DIGITS);
    }

    #[test]
    fn fingerprints_are_checked_before_they_select_anything() {
        assert_eq!(parse_fingerprint(" 0A1B2C3D4E5F ").ok().as_deref(), Some("0a1b2c3d4e5f"));
        for bad in ["", "0a1b2c3", "0a1b2c3g", "ast_0a1b2c3d", &"0".repeat(65)] {
            assert!(parse_fingerprint(bad).is_err(), "{bad:?} is not a fingerprint");
        }
    }
}
