//! A fresh PostgreSQL database per test, dropped afterwards.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ops::Deref;

use citygrid_store_postgres::{PgOptions, PgStore};

/// `url` pointing at database `name` instead.
pub fn url_for(url: &str, name: &str) -> String {
    citygrid_testpg::with_database(url, name)
}

/// The server tests run against: `CITYGRID_TEST_DATABASE_URL`, or the local default.
pub fn admin_url() -> String {
    citygrid_testpg::shared_url()
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

/// A test database, dropped when this goes.
pub struct TestDb {
    pub name: String,
    pub url: String,
    _db: citygrid_testpg::TestDatabase,
}

impl TestDb {
    pub async fn new() -> TestDb {
        // psql under the hood: off the async workers.
        let db = tokio::task::spawn_blocking(citygrid_testpg::TestDatabase::create).await.unwrap();
        let db = db.unwrap_or_else(|e| panic!("{e}"));
        TestDb { name: db.name().to_owned(), url: db.url().to_owned(), _db: db }
    }

    pub async fn store(&self) -> PgStore {
        PgStore::connect(&self.url, PgOptions::default()).await.unwrap()
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
