//! Which store a command opens: PostgreSQL when `--database` (or
//! `CITYGRID_DATABASE_URL`) is a `postgres://` URL, otherwise the embedded
//! store in the data directory.
//!
//! As in atuin, the choice is made once, here, from the URL's scheme, and
//! the command then runs generic over the concrete backend ([`StoreJob`]):
//! no dynamic dispatch, and nothing above this module knows which backend runs.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};

use citygrid_store::Store;
use citygrid_store_postgres::{PgOptions, PgStore};
use citygrid_store_sqlite::{SqliteOptions, SqliteStore};

/// Where the store lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// The embedded store in this data directory.
    Embedded(PathBuf),
    /// A PostgreSQL database.
    Postgres {
        /// The primary, for writes and reads that must see them.
        url: String,
        /// A streaming replica for lists and other reads, if any.
        replica: Option<String>,
    },
}

impl Database {
    /// The store named by `url` (if any), else the embedded one in `data_dir`.
    pub fn choose(url: Option<&str>, replica: Option<&str>, data_dir: &Path) -> Result<Database, String> {
        let url = url.map(str::trim).filter(|u| !u.is_empty());
        let replica = replica.map(str::trim).filter(|u| !u.is_empty());
        match url {
            None if replica.is_some() => Err("--database-replica needs --database postgres://… (the primary)".into()),
            None => Ok(Database::Embedded(data_dir.to_owned())),
            Some(u) if is_postgres(u) => match replica {
                Some(r) if !is_postgres(r) => {
                    Err(format!("--database-replica must be a postgres:// URL, not {}", redact(r)))
                }
                _ => Ok(Database::Postgres { url: u.to_owned(), replica: replica.map(str::to_owned) }),
            },
            Some(u) => Err(format!(
                "unsupported database URL {}: use postgres://user@host:port/db, or leave --database out for the \
                 embedded store in --data-dir",
                redact(u)
            )),
        }
    }
}

impl Database {
    /// Whether there is certainly no store yet (an embedded store not yet
    /// created); a database server may hold one, so it never counts as new.
    pub fn is_new(&self) -> bool {
        match self {
            Database::Embedded(dir) => !dir.join(citygrid_store_sqlite::DB_FILE).exists(),
            Database::Postgres { .. } => false,
        }
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The URL with any password replaced by `***`, fit for logs and errors.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, tail) = rest.split_once('/').map_or((rest, None), |(a, t)| (a, Some(t)));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    match tail {
        Some(t) => format!("{scheme}://{authority}/{}", redact_query(t)),
        None => format!("{scheme}://{authority}"),
    }
}

/// `password=` in the query string is hidden too.
fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else { return tail.to_owned() };
    let query: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Embedded(dir) => write!(f, "embedded store in {}", dir.display()),
            Database::Postgres { url, replica: None } => write!(f, "PostgreSQL {}", redact(url)),
            Database::Postgres { url, replica: Some(r) } => {
                write!(f, "PostgreSQL {} (reads from replica {})", redact(url), redact(r))
            }
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A command that runs on whichever backend [`Database`] names.
pub trait StoreJob {
    /// What it returns.
    type Output;
    /// Runs on the open store.
    fn run<S: Store>(self, store: S) -> impl Future<Output = Result<Self::Output, String>>;
}

/// How to open the store.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    /// fsync the embedded store's log on every commit.
    pub synchronous_full: bool,
    /// Refuse to create an embedded store where there is none (for commands
    /// that only read one, so a mistyped directory is not silently created).
    pub must_exist: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions { synchronous_full: true, must_exist: false }
    }
}

impl OpenOptions {
    /// For commands that read an existing store.
    pub fn existing() -> OpenOptions {
        OpenOptions { must_exist: true, ..OpenOptions::default() }
    }
}

/// Opens the store `db` names and runs `job` on it.
pub async fn with_store<J: StoreJob>(db: &Database, options: OpenOptions, job: J) -> Result<J::Output, String> {
    match db {
        Database::Embedded(dir) => {
            if options.must_exist && !dir.join(citygrid_store_sqlite::DB_FILE).exists() {
                return Err(format!(
                    "no CityGrid store in {dir}: import a territory first (`citygrid import territory FILE --data-dir \
                     {dir}`) or seed the demo (`citygrid demo --data-dir {dir}`), or pass --database postgres://…",
                    dir = dir.display()
                ));
            }
            let opts = SqliteOptions { synchronous_full: options.synchronous_full, ..SqliteOptions::default() };
            let store = SqliteStore::open_dir(dir, opts)
                .map_err(|e| format!("cannot open the store in {}: {e}", dir.display()))?;
            job.run(store).await
        }
        Database::Postgres { url, replica } => {
            let opts = PgOptions { replica_url: replica.clone(), ..PgOptions::default() };
            let store = PgStore::connect(url, opts).await.map_err(|e| format!("cannot open {db}: {e}"))?;
            job.run(store).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_backend() {
        let dir = Path::new("d");
        assert_eq!(Database::choose(None, None, dir), Ok(Database::Embedded(dir.into())));
        assert_eq!(Database::choose(Some(" "), None, dir), Ok(Database::Embedded(dir.into())));
        assert!(matches!(
            Database::choose(Some("postgres://u@h/db"), Some("postgresql://u@r/db"), dir),
            Ok(Database::Postgres { replica: Some(_), .. })
        ));
        assert!(Database::choose(Some("mysql://u:pw@h/db"), None, dir).unwrap_err().contains("mysql://u:***@h/db"));
        assert!(Database::choose(None, Some("postgres://r/db"), dir).is_err());
        assert!(Database::choose(Some("postgres://h/db"), Some("file:x"), dir).is_err());
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(redact("postgres://cg:s3cret@db:5432/citygrid"), "postgres://cg:***@db:5432/citygrid");
        assert_eq!(
            redact("postgres://cg@db/citygrid?password=s3cret&x=1"),
            "postgres://cg@db/citygrid?password=***&x=1"
        );
        assert_eq!(redact("postgres://db"), "postgres://db");
        let db = Database::Postgres { url: "postgres://a:pw@h/d".into(), replica: Some("postgres://b:pw2@r/d".into()) };
        let shown = format!("{db} {db:?}");
        assert!(!shown.contains("pw"), "{shown}");
    }
}
