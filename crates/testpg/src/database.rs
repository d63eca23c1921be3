//! A fresh database on the machine's shared PostgreSQL server, dropped when
//! the test is done: for tests that need PostgreSQL but not a server of
//! their own.

use std::process::Command;

/// The shared server tests use: `CITYGRID_TEST_DATABASE_URL`, or the local default.
pub fn shared_url() -> String {
    std::env::var("CITYGRID_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// `url` naming database `name` instead of its own.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, String::new()), |(b, q)| (b, format!("?{q}")));
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let host = rest.split_once('/').map_or(rest, |(h, _)| h);
    format!("{scheme}://{host}/{name}{query}")
}

/// A database created for one test on the shared server.
pub struct TestDatabase {
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates an empty database with a random name. Fails (with how to
    /// fix it) when the shared server cannot be reached: a test that needs
    /// PostgreSQL must not pass without it.
    pub fn create() -> Result<TestDatabase, String> {
        let name = format!("cg_test_{:016x}", random());
        admin(&format!("CREATE DATABASE {name}")).map_err(|e| {
            format!(
                "PostgreSQL is not usable at {} ({e}); start it (`bash .ci/postgres.sh`) or point \
                 CITYGRID_TEST_DATABASE_URL at a server",
                shared_url()
            )
        })?;
        let url = with_database(&shared_url(), &name);
        Ok(TestDatabase { name, url })
    }

    /// Its URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Err(e) = admin(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)) {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// Runs one statement on the shared server's own database.
fn admin(sql: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", &shared_url(), "-c", sql])
        .env_remove("PGPASSWORD")
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).trim().to_owned()) }
}

/// 64 random-enough bits for a name, without a dependency: the clock and
/// the process id through std's randomly seeded hasher.
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.write_u32(std::process::id());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_database() {
        assert_eq!(with_database("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h/test?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }
}
