//! CityGrid's application layer: every use case, once, for every caller.
//!
//! # Layering
//!
//! ```text
//! citygrid-domain   rules with no I/O: the case loop, access policy, calendar
//!       ↑
//! citygrid-geo      boundaries, point location, import checks and repair
//!       ↑
//! citygrid-store    the storage contract (SQLite today, PostgreSQL next)
//!       ↑
//! citygrid-app      this crate: use cases and the state they share
//!       ↑
//! citygrid-server   HTTP (axum): parse, call a use case, map its error
//!       ↑
//! citygrid (cli)    serve, import, demo
//! ```
//!
//! Dependencies point one way: this crate knows nothing of HTTP, sessions
//! or JSON error bodies, and nothing below it knows this crate.
//!
//! [`Core`] holds what every use case needs and no caller owns: the store,
//! the reference data ([`world::World`]: territory, zones, catalogue,
//! swapped whole on change), the working calendar, the deadline policy and
//! the personal-data keys ([`vault::Vault`]). Each use case is a method on
//! it taking an [`Actor`] and a typed input, returning a typed output or an
//! [`AppError`]; each one authorizes through the policy engine (denials
//! are audited) and writes its audit event with every change, as the store
//! contract requires.
//!
//! | use case | file |
//! |---|---|
//! | report a case | [`report`] ([`Core::report`]) |
//! | act on a case | [`act`] ([`Core::act`]) |
//! | load a case for an operation | [`cases`] ([`Core::case_for`]) |
//! | take detections, review and promote incidents | [`eyes`] ([`eyes::Intake::submit`], [`Core::review_incident`], [`Core::promote_incident`]) |
//! | import territory | [`territory`] ([`Core::import_territory`]) |
//! | register a device | [`devices`] ([`Core::register_device`]) |
//! | take in an HJ 212 packet, list readings | [`water`] ([`water::StationIntake`], [`Core::water_readings`]) |
//! | put / delete a zone | [`zones`] ([`Core::put_zone`], [`Core::delete_zone`]) |
//! | put a category / department | [`catalog`] ([`Core::put_category`], [`Core::put_department`]) |
//! | reload reference data | [`reload`] ([`Core::reload_world`] and friends) |
//! | follow the live feed of case changes | [`feed`] ([`feed::FeedHub`]) |
//! | background jobs, once across processes | [`jobs`] ([`jobs::JobRunner`], [`jobs::checkpoint`]) |
//!
//! # Calling it from somewhere new
//!
//! A protocol listener, a scheduler or a transfer job gets the server's
//! `Arc<Core<S>>` (`citygrid_server::App::core`), or builds its own with
//! [`Core::load`], and calls the use cases like the HTTP handlers do:
//!
//! ```ignore
//! let actor = Actor::system("escalation-scheduler");
//! match core.act(&actor, case_id, Action::Suspend { reason: "…".into() }).await {
//!     Ok(acted) => tracing::info!(state = %acted.case.state, "escalated"),
//!     Err(AppError::InvalidTransition(why)) => tracing::debug!(%why, "nothing to do"),
//!     Err(e) => return Err(e),
//! }
//! ```
//!
//! A device reporting over MQTT would build an [`Actor`] from its device
//! principal and call [`Core::report`]; the same category, territory,
//! scope, deadline and duplicate rules apply as over HTTP. Tools without a
//! running service (the CLI on a data directory) use the free functions
//! that take a store ([`territory::import_parsed`],
//! [`catalog::write_categories`], [`catalog::write_departments`]): the same
//! rules, without a [`Core`].

pub mod act;
pub mod actor;
pub mod cases;
pub mod catalog;
pub mod core;
pub mod devices;
pub mod error;
pub mod eyes;
pub mod feed;
pub mod jobs;
pub mod liveness;
pub mod reload;
pub mod report;
pub mod territory;
pub mod tiles;
pub mod turn;
pub mod vault;
pub mod water;
pub mod world;
pub mod zones;

pub use actor::{Actor, op_name};
pub use core::{Core, CoreParts, now};
pub use error::{AppError, AppResult};
