//! Password hashing with Argon2id (the crate's defaults: 19 MiB, 2 passes).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use citygrid_domain::{named_schema, schema};
use rand::RngCore;
use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// The character classes a password draws on, as patterns; it needs [`MIN_CLASSES`] of them.
pub const CHARACTER_CLASSES: [&str; 4] = ["[a-z]", "[A-Z]", "[0-9]", "[^A-Za-z0-9]"];

/// How many of [`CHARACTER_CLASSES`] a password needs.
pub const MIN_CLASSES: usize = 3;

named_schema!(
    /// A password [`check_strength`] accepts.
    Password => {
        // One alternative per choice of classes (all but one, as three of four are needed).
        let choices = (0..CHARACTER_CLASSES.len()).map(|skip| {
            let classes = CHARACTER_CLASSES.iter().enumerate().filter(move |(i, _)| *i != skip);
            classes.fold(AllOfBuilder::new(), |all, (_, c)| all.item(schema::string().pattern(Some(*c))))
        });
        AllOfBuilder::new()
            .item(schema::string().min_length(Some(MIN_PASSWORD_CHARS)))
            .item(choices.fold(AnyOfBuilder::new(), AnyOfBuilder::item))
            .description(Some(format!(
                "At least {MIN_PASSWORD_CHARS} characters, with {MIN_CLASSES} of: lowercase, uppercase, digits, symbols."
            )))
            .examples(["Grid-Worker-2026"])
    }
);

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

/// A hash of a random password, verified against when the user does not
/// exist so that timing does not reveal which usernames are real.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&format!("{:032x}", rand::random::<u128>())).unwrap_or_default())
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

    /// The documented classes and count are the ones checked.
    #[test]
    fn the_documented_strength_is_the_checked_one() {
        assert_eq!(CHARACTER_CLASSES.len() - 1, MIN_CLASSES, "the schema lists all but one class per choice");
        let classes: Vec<regex::Regex> = CHARACTER_CLASSES.iter().map(|c| regex::Regex::new(c).unwrap()).collect();
        for pw in [
            "Grid-Worker-2026",
            "gridworker2026",
            "GRIDWORKER-2026",
            "grid-worker-",
            "Gridworker",
            "短密码Aa1!",
            "密码密码密码密码密码A1",
        ] {
            let n = classes.iter().filter(|c| c.is_match(pw)).count();
            let documented = pw.chars().count() >= MIN_PASSWORD_CHARS && n >= MIN_CLASSES;
            assert_eq!(documented, check_strength(pw).is_ok(), "{pw}");
        }
    }

    #[test]
    fn strength() {
        assert!(check_strength("short1A!").is_err());
        assert!(check_strength("alllowercaseletters").is_err());
        assert!(check_strength("Grid-Worker-2026").is_ok());
    }
}
