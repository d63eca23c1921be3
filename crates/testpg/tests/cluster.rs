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

/// Set in the child process of [`a_killed_test_process_leaves_no_server_behind`].
const HOLD_ENV: &str = "CITYGRID_TESTPG_HOLD";

#[test]
fn a_killed_test_process_leaves_no_server_behind() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    // A second copy of this test binary starts a cluster, reports it, and waits to be killed.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "hold_a_cluster_until_killed", "--ignored", "--nocapture", "--test-threads=1"])
        .env(HOLD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let held = stdout.lines().map_while(Result::ok).find_map(|line| {
        // The harness may have printed "test … " on the same line.
        let rest = &line[line.find("HOLDING ")? + "HOLDING ".len()..];
        let (port, data) = rest.split_once(' ')?;
        Some((port.parse::<u16>().ok()?, std::path::PathBuf::from(data)))
    });
    child.kill().unwrap(); // SIGKILL: no unwinding, no Drop.
    child.wait().unwrap();
    let (port, data) = held.expect("the child reported its cluster");

    let deadline = Instant::now() + Duration::from_secs(15);
    while (data.exists() || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!data.exists(), "the watchdog removed {}", data.display());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the watchdog stopped the server on {port}");
}

#[test]
#[ignore = "helper run by a_killed_test_process_leaves_no_server_behind"]
fn hold_a_cluster_until_killed() {
    if std::env::var_os(HOLD_ENV).is_none() {
        return;
    }
    let pg = Cluster::start_primary().expect("start primary");
    println!("HOLDING {} {}", pg.port(), pg.data_dir().display());
    // Waits to be killed; returns (dropping the cluster) if nobody does.
    std::thread::sleep(std::time::Duration::from_secs(60));
}
