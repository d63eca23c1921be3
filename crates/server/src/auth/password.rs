//! Password hashing with Argon2id (the crate's defaults: 19 MiB, 2 passes).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Hashes a password into a PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Checks a password against a PHC string; malformed hashes never match.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default().verify_password(password.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

/// The hash of a random password nobody knows, made with [`hash_password`]'s
/// parameters. A constant rather than hashed at start so that there is no
/// failure to fall back from; the tests check it parses and costs what a
/// real hash costs.
const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$u7WFKBo+ODM1MpU22P+5Aw$HaHw4KsX033nKDSjBvzKw1rtwJ0/rLuS6epCoho48pc";

/// Spends the Argon2 work of checking a real password, for logins with an
/// unknown username, so that timing does not reveal which usernames exist.
pub fn verify_decoy(password: &str) {
    let _ = verify_password(password, DECOY_HASH);
}

/// Checks a new password's strength.
pub fn check_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!("a password needs at least {MIN_PASSWORD_CHARS} characters"));
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if classes.iter().filter(|&&b| b).count() < 3 {
        return Err("a password needs three of: lowercase, uppercase, digits, symbols".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash_password("Correct-Horse-9").unwrap();
        let b = hash_password("Correct-Horse-9").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(verify_password("Correct-Horse-9", &a));
        assert!(!verify_password("correct-horse-9", &a));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn the_decoy_costs_what_a_real_hash_costs() {
        let decoy = PasswordHash::new(DECOY_HASH).unwrap();
        let real = hash_password("Correct-Horse-9").unwrap();
        let real = PasswordHash::new(&real).unwrap();
        // Same algorithm, version, memory, passes, lanes and output length:
        // verifying against it is the same work as against a user's hash.
        assert_eq!(decoy.algorithm, real.algorithm);
        assert_eq!(decoy.version, real.version);
        assert_eq!(decoy.params, real.params);
        assert_eq!(decoy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        assert_eq!(decoy.salt.map(|s| s.len()), real.salt.map(|s| s.len()));
        assert!(!verify_password("Correct-Horse-9", DECOY_HASH));
    }

    #[test]
    fn strength() {
        assert!(check_strength("short1A!").is_err());
        assert!(check_strength("alllowercaseletters").is_err());
        assert!(check_strength("Grid-Worker-2026").is_ok());
    }
}
