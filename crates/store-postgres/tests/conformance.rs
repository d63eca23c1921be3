//! The shared conformance suite, each check on a brand-new PostgreSQL database.

mod common;

use common::fresh;

citygrid_store::conformance_tests!(fresh);
