//! `citygrid-bench`: the benchmarks behind docs/benchmarks.md, apart from the
//! product. Build with `cargo build --release -p citygrid -p citygrid-bench`
//! and run `target/release/citygrid-bench <benchmark>`.

mod http;
mod http_pg;
mod locate;
mod machine;
mod startup;
mod wrk;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// CityGrid's benchmarks (see docs/benchmarks.md).
#[derive(Parser)]
#[command(name = "citygrid-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Case creation and case reads (warm, during a login burst, cold) over HTTP, with wrk.
    Http {
        /// Seconds per run.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Concurrent connections.
        #[arg(long, default_value_t = 50)]
        connections: u32,
        /// Concurrent connections logging in during the burst.
        #[arg(long, default_value_t = 16)]
        login_connections: u32,
        /// The wrk binary.
        #[arg(long, default_value = "wrk")]
        wrk: String,
        /// Directory with the wrk scripts.
        #[arg(long, default_value_os_t = machine::scripts_dir())]
        scripts: PathBuf,
        /// Rounds of (baseline, shipped), alternating order.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Cases the store keeps in memory in the warm runs (the default of `serve`).
        #[arg(long, default_value_t = citygrid_store_sqlite::SqliteOptions::default().cached_cases)]
        cached_cases: usize,
    },
    /// Case creation over HTTP on PostgreSQL (one instance, and two on one
    /// database) against the embedded store, in one run (issue 9).
    HttpPostgres {
        /// Seconds per run.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Concurrent connections (split between the two wrk of two instances).
        #[arg(long, default_value_t = 50)]
        connections: u32,
        /// The wrk binary.
        #[arg(long, default_value = "wrk")]
        wrk: String,
        /// Directory with the wrk scripts.
        #[arg(long, default_value_os_t = machine::scripts_dir())]
        scripts: PathBuf,
        /// Rounds of (embedded, PostgreSQL, PostgreSQL ×2), in rotating order.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Cases the embedded store keeps in memory (the default of `serve`).
        #[arg(long, default_value_t = citygrid_store_sqlite::SqliteOptions::default().cached_cases)]
        cached_cases: usize,
        /// A database on the PostgreSQL server; the benchmark creates a fresh
        /// database there per run and drops it afterwards.
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        database_server: String,
        /// Pooled connections per instance (the default of `serve`).
        #[arg(long, default_value_t = citygrid_store_postgres::PgOptions::default().pool_size)]
        pool_size: usize,
        /// Workers batching case creations per instance (the default of
        /// `serve`; 0: each creation its own transaction).
        #[arg(long, default_value_t = citygrid_store_postgres::PgOptions::default().create_workers)]
        create_workers: usize,
    },
    /// Point location on the Wuhu demo: index build, locates per second, a
    /// naive reference, optionally PostGIS, and `citygrid locate` end to end.
    Locate(locate::Args),
    /// Time from `citygrid demo` on an empty data directory to a healthy server.
    Startup {
        /// Runs.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// The `citygrid` binary (default: beside this one).
        #[arg(long, default_value_os_t = machine::citygrid_binary())]
        citygrid: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<String, String> {
    match command {
        Command::Http { duration, connections, login_connections, wrk, scripts, rounds, cached_cases } => {
            let o = http::Options {
                wrk: &wrk,
                scripts: &scripts,
                secs: duration,
                conns: connections,
                login_conns: login_connections,
                rounds,
                cached_cases,
            };
            let v = http::http(&o).await?;
            Ok(http::http_report(&v, &o))
        }
        Command::HttpPostgres {
            duration,
            connections,
            wrk,
            scripts,
            rounds,
            cached_cases,
            database_server,
            pool_size,
            create_workers,
        } => {
            let o = http_pg::Options {
                wrk: &wrk,
                scripts: &scripts,
                secs: duration,
                conns: connections,
                rounds,
                cached_cases,
                server: &database_server,
                pool_size,
                create_workers,
            };
            let out = http_pg::run(&o).await?;
            Ok(http_pg::report(&out, &o))
        }
        Command::Locate(args) => locate::run(args).await,
        Command::Startup { runs, citygrid } => {
            tokio::task::spawn_blocking(move || startup::startup(&citygrid, runs)).await.map_err(|e| e.to_string())?
        }
    }
}
