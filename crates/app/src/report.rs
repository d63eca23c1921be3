//! Reporting a case: the first step of the case loop, whoever reports it
//! (a person over HTTP, a device over a protocol listener, an incident
//! promoted to a case).

use citygrid_domain::access::{Operation, Role, Scope};
use citygrid_domain::case::{DecideContext, NewCase, Source, report};
use citygrid_domain::personal::Contact;
use citygrid_domain::{CategoryCode, Point};
use citygrid_store::{CreatedCase, NearbyQuery, SealedContact, Store};

use crate::actor::Actor;
use crate::core::{Core, now};
use crate::error::{AppError, AppResult};

/// Possible duplicates listed with a new report.
const DUPLICATE_HINTS: usize = 5;

/// A new report.
#[derive(Debug, Clone)]
pub struct ReportCase {
    /// An active category's code.
    pub category: CategoryCode,
    /// What was seen.
    pub description: String,
    /// Longitude (checked here: every caller gets the same rule).
    pub lon: f64,
    /// Latitude.
    pub lat: f64,
    /// Urgent cases run on natural time.
    pub urgent: bool,
    /// Channel; fixed by role except for operators (default `hotline`).
    pub source: Option<Source>,
    /// Street address; blank counts as none.
    pub address: Option<String>,
    /// The reporter's contact, stored encrypted; empty counts as none.
    pub contact: Option<Contact>,
    /// Hashes of uploaded attachments.
    pub evidence: Vec<String>,
}

/// A stored report.
#[derive(Debug, Clone)]
pub struct Reported {
    /// The case, its report entry, and open cases of the same category nearby.
    pub created: CreatedCase,
    /// The contact as stored, masked.
    pub contact: Option<Contact>,
}

/// The channel a report comes in on: fixed by the reporter's role, chosen
/// (default `hotline`) by roles that take reports for others.
pub fn source_for(role: Role, asked: Option<Source>) -> AppResult<Source> {
    let fixed = match role {
        Role::GridWorker => Source::GridWorker,
        Role::Citizen => Source::Citizen,
        Role::DepartmentHandler => Source::Department,
        _ => return Ok(asked.unwrap_or(Source::Hotline)),
    };
    match asked {
        Some(s) if s != fixed => Err(AppError::invalid(format!("your role reports as source {}", fixed.as_str()))),
        _ => Ok(fixed),
    }
}

impl<S: Store> Core<S> {
    /// Reports a case. The category must exist, the point is located in the
    /// territory and the actor must be allowed to report there; the report
    /// becomes the first timeline entry with its registration deadline, the
    /// contact is encrypted, and open cases of the same category nearby are
    /// returned as possible duplicates. Audited as `case.create`.
    pub async fn report(&self, actor: &Actor, req: ReportCase) -> AppResult<Reported> {
        self.report_with(actor, req, true).await
    }

    /// [`Core::report`], with the policy check skipped when `authorize` is
    /// false: for the platform reporting on its own account (an incident a
    /// rule promotes without review), which no role's policy covers.
    pub(crate) async fn report_with(&self, actor: &Actor, req: ReportCase, authorize: bool) -> AppResult<Reported> {
        let who = &actor.principal;
        let world = self.world();
        let code = req.category;
        let category = world
            .catalog
            .categories
            .get(&code)
            .ok_or_else(|| AppError::rule("unknown_category", format!("no category {code}")))?;
        let location = Point::new(req.lon, req.lat)
            .ok_or_else(|| AppError::Malformed { code: "invalid_point", message: "lon/lat out of range".into() })?;
        let located = world.territory.locate(location).ok_or_else(AppError::outside_territory)?;
        let territory = located.deepest().cloned().ok_or_else(AppError::outside_territory)?;
        if authorize {
            self.authorize_actor(actor, Operation::CreateCase, &Scope::Place(&territory), &format!("unit/{territory}"))
                .await?;
        }
        let source = source_for(who.role, req.source)?;
        let contact = match req.contact.filter(|c| !c.is_empty()) {
            Some(c) => Some(c.normalized().map_err(|e| AppError::rule("invalid_contact", e.to_string()))?),
            None => None,
        };
        self.check_evidence(&req.evidence).await?;
        let ctx = DecideContext {
            now: now(),
            actor: &who.id,
            actor_role: who.role.as_str(),
            calendar: &self.calendar,
            category,
            policy: &self.policy,
        };
        let new = NewCase {
            category: code,
            urgent: req.urgent,
            source,
            location,
            territory,
            description: req.description,
            address: req.address.filter(|a| !a.trim().is_empty()),
            evidence: req.evidence,
        };
        let (case, entry) = report(0, new, &ctx)?;
        let sealed = match &contact {
            Some(c) => Some(SealedContact {
                ciphertext: self.vault.seal(c)?,
                phone_index: c.phone.as_deref().map(|p| self.vault.blind_index("phone", p)),
                id_index: c.id_number.as_deref().map(|i| self.vault.blind_index("id", i)),
            }),
            None => None,
        };
        let nearby = NearbyQuery { radius_m: self.nearby_radius_m, limit: DUPLICATE_HINTS };
        let audit = self.actor_event(actor, "case.create", "case/?");
        let created = self.store.create_case(case, entry, sealed, nearby, audit).await?;
        Ok(Reported { created, contact: contact.map(|c| c.masked()) })
    }
}
