//! The `citygrid` command's building blocks: opening a store and serving it,
//! the demo city, imports, administrator accounts, streaming point location,
//! moving an installation into another store.
//! The binary (`main.rs`) only parses arguments and calls these; the
//! benchmarks (`citygrid-bench`) reuse them.

pub mod admin;
pub mod bootstrap;
pub mod database;
pub mod demo;
pub mod import;
pub mod locate;
pub mod migrate;
pub mod reference;
pub mod settings;
pub mod simulate;
