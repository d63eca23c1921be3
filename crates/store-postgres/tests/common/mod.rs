//! A fresh PostgreSQL database per test, dropped afterwards.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ops::Deref;

use citygrid_store_postgres::{PgOptions, PgStore};

/// The server tests run against: `CITYGRID_TEST_DATABASE_URL`, or the local default.
pub fn admin_url() -> String {
    std::env::var("CITYGRID_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// `url` pointing at database `name` instead.
pub fn url_for(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let (scheme, rest) = base.split_once("://").expect("a URL with a scheme");
    let host = rest.split_once('/').map_or(rest, |(h, _)| h);
    format!("{scheme}://{host}/{name}{query}")
}

/// A connection to the admin database; fails the test clearly when the server is missing.
pub async fn admin() -> tokio_postgres::Client {
    let url = admin_url();
    let (client, conn) = match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
        Ok(pair) => pair,
        Err(e) => panic!(
            "PostgreSQL is not reachable at {url} ({e}); start it (e.g. `pg_ctlcluster 15 main start`) \
             or point CITYGRID_TEST_DATABASE_URL at a server. These tests do not pass without one."
        ),
    };
    tokio::spawn(conn);
    client
}

/// Creates a brand-new, empty database; returns its name and URL.
pub async fn create_database() -> (String, String) {
    let name = format!("cg_test_{:016x}", rand::random::<u64>());
    admin().await.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("CREATE DATABASE");
    let url = url_for(&admin_url(), &name);
    (name, url)
}

/// Drops a test database, from synchronous code (a Drop).
pub fn drop_database(name: &str) {
    let name = name.to_owned();
    let dropper = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let c = admin().await;
            if let Err(e) = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await {
                eprintln!("could not drop test database {name}: {e}");
            }
        });
    });
    let _ = dropper.join();
}

/// A test database, dropped when this goes.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let (name, url) = create_database().await;
        TestDb { name, url }
    }

    pub async fn store(&self) -> PgStore {
        PgStore::connect(&self.url, PgOptions::default()).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop_database(&self.name);
    }
}

/// A store on a fresh database; the database goes when the store does.
pub struct Fresh {
    store: Option<PgStore>,
    _db: TestDb,
}

impl Deref for Fresh {
    type Target = PgStore;
    fn deref(&self) -> &PgStore {
        self.store.as_ref().unwrap()
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        // The store first, so its connections close before the database goes.
        drop(self.store.take());
    }
}

/// A fresh, empty store on its own database.
pub async fn fresh() -> Fresh {
    let db = TestDb::new().await;
    let store = db.store().await;
    Fresh { store: Some(store), _db: db }
}
