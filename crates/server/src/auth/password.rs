//! Password hashing with Argon2id (the crate's defaults: 19 MiB, 2 passes).
//!
//! Request handlers use the async [`hash`], [`verify`] and [`burn_decoy`]:
//! they run the Argon2 work on the blocking pool, at most one per core at a
//! time, so a burst of logins neither stalls the async workers nor starts
//! hundreds of 19 MiB hashes at once.

use std::sync::{Arc, LazyLock};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use citygrid_domain::{named_schema, schema};
use rand::RngCore;
use tokio::sync::Semaphore;
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

/// Why Argon2 work run off the async workers did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Hashing failed.
    #[error("cannot hash the password: {0}")]
    Hash(String),
    /// The blocking task panicked or was cancelled.
    #[error("the password hashing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The limit on concurrent hashes was closed (it never is).
    #[error("the password hashing pool is closed")]
    Closed,
}

/// Argon2 jobs allowed at once: one per core. More would only queue for the
/// CPU while each holds its 19 MiB, and would take blocking-pool threads
/// that file I/O needs.
static PERMITS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(max_concurrent())));

/// The number of cores, as [`PERMITS`] is sized.
fn max_concurrent() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Runs `work` on the blocking pool once a permit is free; the permit is
/// held until the work ends, even if the caller stops waiting.
async fn off_workers<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, PasswordError> {
    let permit = Arc::clone(&PERMITS).acquire_owned().await.map_err(|_| PasswordError::Closed)?;
    Ok(tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await?)
}

/// [`hash_password`] off the async workers.
pub async fn hash(password: String) -> Result<String, PasswordError> {
    off_workers(move || hash_password(&password)).await?.map_err(PasswordError::Hash)
}

/// [`verify_password`] off the async workers.
pub async fn verify(password: String, phc: String) -> Result<bool, PasswordError> {
    off_workers(move || verify_password(&password, &phc)).await
}

/// [`verify_decoy`] off the async workers.
pub async fn burn_decoy(password: String) -> Result<(), PasswordError> {
    off_workers(move || verify_decoy(&password)).await
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

    #[tokio::test(flavor = "current_thread")]
    async fn argon2_runs_off_the_calling_thread() {
        let caller = std::thread::current().id();
        assert_ne!(off_workers(move || std::thread::current().id()).await.unwrap(), caller);
        let phc = hash("Correct-Horse-9".into()).await.unwrap();
        assert!(verify("Correct-Horse-9".into(), phc.clone()).await.unwrap());
        assert!(!verify("Wrong-Horse-9".into(), phc).await.unwrap());
        burn_decoy("anything".into()).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_hashes_run_at_once_than_there_are_permits() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let limit = max_concurrent();
        let active = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..limit * 3)
            .map(|_| {
                let (active, peak) = (Arc::clone(&active), Arc::clone(&peak));
                tokio::spawn(off_workers(move || {
                    let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    // Long enough that unbounded jobs would overlap.
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    active.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for j in jobs {
            j.await.unwrap().unwrap();
        }
        let peak = peak.load(Ordering::SeqCst);
        assert!((1..=limit).contains(&peak), "peak {peak}, limit {limit}");
    }

    #[test]
    fn strength() {
        assert!(check_strength("short1A!").is_err());
        assert!(check_strength("alllowercaseletters").is_err());
        assert!(check_strength("Grid-Worker-2026").is_ok());
    }
}
