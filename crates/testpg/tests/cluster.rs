//! Each test owns its clusters; they are stopped and removed when dropped.

use std::time::Instant;

use citygrid_testpg::{Cluster, Role};

#[test]
fn a_committed_row_survives_a_fast_stop_and_restart() {
    let started = Instant::now();
    let pg = Cluster::start_primary().expect("start primary");
    assert_eq!(pg.role(), Role::Primary);
    assert!(pg.is_running());
    assert_eq!(pg.url(), format!("postgres://postgres@127.0.0.1:{}/citygrid", pg.port()));
    assert_ne!(pg.port(), 5432);
    assert_eq!(pg.psql("SELECT current_database()").unwrap(), "citygrid");
    assert_eq!(pg.psql("SHOW wal_level").unwrap(), "replica");
    assert_eq!(pg.psql("SHOW fsync").unwrap(), "on");

    pg.psql("CREATE TABLE t (id int PRIMARY KEY, note text); INSERT INTO t VALUES (1, 'kept')").unwrap();
    let port = pg.port();

    pg.stop().expect("stop");
    assert!(!pg.is_running());
    let err = pg.psql("SELECT 1").expect_err("a stopped server refuses connections");
    assert!(err.contains("psql on port"), "{err}");
    assert!(pg.stop().is_err(), "stopping twice is an error");

    pg.start().expect("restart");
    assert!(pg.is_running());
    assert_eq!(pg.port(), port);
    assert_eq!(pg.psql("SELECT id, note FROM t").unwrap(), "1|kept");
    assert!(pg.start().is_err(), "starting a running server is an error");

    let dir = pg.data_dir().parent().unwrap().to_path_buf();
    drop(pg);
    assert!(!dir.exists(), "drop removes {}", dir.display());
    eprintln!("stop/restart test: {:?}", started.elapsed());
}

#[test]
fn a_replica_streams_rows_and_refuses_writes() {
    let started = Instant::now();
    let primary = Cluster::start_primary().expect("start primary");
    primary.psql("CREATE TABLE t (id int PRIMARY KEY, note text)").unwrap();

    let replica = primary.start_replica().expect("start replica");
    assert_eq!(replica.role(), Role::Replica);
    assert_ne!(replica.port(), primary.port());
    assert_eq!(replica.url(), format!("postgres://postgres@127.0.0.1:{}/citygrid", replica.port()));
    assert_eq!(replica.psql("SELECT pg_is_in_recovery()").unwrap(), "t");

    primary.psql("INSERT INTO t VALUES (7, 'streamed')").unwrap();
    replica.wait_caught_up(&primary).expect("catch up");
    assert_eq!(replica.psql("SELECT id, note FROM t").unwrap(), "7|streamed");

    let err = replica.psql("INSERT INTO t VALUES (8, 'nope')").expect_err("a hot standby is read-only");
    assert!(err.contains("read-only transaction"), "{err}");

    // The replica follows the primary through its own restart.
    replica.stop().unwrap();
    primary.psql("INSERT INTO t VALUES (9, 'while down')").unwrap();
    replica.start().unwrap();
    replica.wait_caught_up(&primary).expect("catch up after restart");
    assert_eq!(replica.psql("SELECT count(*) FROM t").unwrap(), "2");

    assert!(primary.wait_caught_up(&replica).is_err(), "a primary is not a replica");
    eprintln!("replica test: {:?}", started.elapsed());
}

#[test]
fn a_panicking_test_leaves_no_server_behind() {
    let mut dir = None;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let pg = Cluster::start_primary().expect("start primary");
        dir = Some((pg.data_dir().to_path_buf(), pg.port()));
        panic!("the test fails while its cluster runs");
    }));
    assert!(outcome.is_err());
    let (data, port) = dir.unwrap();
    assert!(!data.exists(), "{} was removed", data.display());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "nothing listens on {port} any more");
}
