//! Who may do what, where: the one policy every endpoint consults.
//!
//! A [`Principal`] is a role bound to a territory unit and/or a department.
//! [`authorize`] answers one question — may this principal perform this
//! [`Operation`] on a resource in this [`Scope`] — and [`case_visibility`]
//! turns a principal into the filter that list queries apply inside the
//! store, so that nothing outside scope is ever fetched.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::case::ActionKind;
use crate::territory::{Level, UnitCode};

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// System administrator: users, devices, categories, territory. Sees no personal data.
    Admin,
    /// Command-centre operator at the city, district, township or community level.
    Operator,
    /// Grid worker (网格员) for a community or grid.
    GridWorker,
    /// Handler in a department.
    DepartmentHandler,
    /// Mediator (调解员).
    Mediator,
    /// A resident reporting problems.
    Citizen,
    /// Read-only auditor / data steward.
    Auditor,
    /// A camera, radar or station sending its own feed.
    Device,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::Operator,
        Role::GridWorker,
        Role::DepartmentHandler,
        Role::Mediator,
        Role::Citizen,
        Role::Auditor,
        Role::Device,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::GridWorker => "grid_worker",
            Role::DepartmentHandler => "department_handler",
            Role::Mediator => "mediator",
            Role::Citizen => "citizen",
            Role::Auditor => "auditor",
            Role::Device => "device",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// What binding the role needs: `(unit, department)`.
    pub fn needs(self) -> (bool, bool) {
        match self {
            Role::Operator | Role::GridWorker | Role::Mediator => (true, false),
            Role::DepartmentHandler => (false, true),
            _ => (false, false),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Principal {
    /// User or device id.
    pub id: String,
    /// Role.
    pub role: Role,
    /// The territory the principal is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<UnitCode>,
    /// The department the principal belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

/// Why a binding is unusable for a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    /// The role needs a territory unit.
    #[error("role {0} must be bound to a territory unit")]
    NeedsUnit(Role),
    /// The role needs a department.
    #[error("role {0} must be bound to a department")]
    NeedsDepartment(Role),
    /// Operators sit at one of the four centre levels.
    #[error("operators are bound to a city, district, township or community, not a {0}")]
    OperatorLevel(Level),
    /// Grid workers work in a community or grid.
    #[error("grid workers are bound to a community, grid or micro-grid, not a {0}")]
    GridWorkerLevel(Level),
}

impl Principal {
    /// Checks the role's binding rules.
    pub fn check_binding(&self) -> Result<(), BindingError> {
        let (unit, dept) = self.role.needs();
        if unit && self.unit.is_none() {
            return Err(BindingError::NeedsUnit(self.role));
        }
        if dept && self.department.is_none() {
            return Err(BindingError::NeedsDepartment(self.role));
        }
        if let Some(u) = &self.unit {
            let level = u.level();
            match self.role {
                Role::Operator if level > Level::Community => return Err(BindingError::OperatorLevel(level)),
                Role::GridWorker if level < Level::Community => return Err(BindingError::GridWorkerLevel(level)),
                _ => {}
            }
        }
        Ok(())
    }

    fn in_unit(&self, territory: &UnitCode) -> bool {
        self.unit.as_ref().is_some_and(|u| u.contains(territory))
    }
}

/// Which cases a principal may see, applied inside the store's queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseScope {
    /// Every case.
    All,
    /// Cases located in this unit's subtree.
    Territory(UnitCode),
    /// Cases currently or previously dispatched to this department (lead or assist).
    Department(String),
    /// Cases this user reported.
    Reporter(String),
    /// No case at all.
    Nothing,
}

/// The case visibility of a principal.
pub fn case_visibility(p: &Principal) -> CaseScope {
    match (p.role, &p.unit, &p.department) {
        (Role::Admin | Role::Auditor, _, _) => CaseScope::All,
        (Role::Operator | Role::GridWorker, Some(u), _) => CaseScope::Territory(u.clone()),
        (Role::DepartmentHandler, _, Some(d)) => CaseScope::Department(d.clone()),
        (Role::Citizen, _, _) => CaseScope::Reporter(p.id.clone()),
        _ => CaseScope::Nothing,
    }
}

/// What a case looks like to the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFacts<'a> {
    /// Where it is.
    pub territory: &'a UnitCode,
    /// Who reported it.
    pub reporter: &'a str,
    /// The lead department now.
    pub department: Option<&'a str>,
    /// Every department it was ever dispatched to.
    pub departments_ever: &'a [String],
}

/// The resource an operation touches, as far as the policy needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Nothing territorial (catalogue reads, own session).
    Global,
    /// A place: a new report's location, a unit.
    Place(&'a UnitCode),
    /// An existing case.
    Case(CaseFacts<'a>),
    /// An existing device, standing in this unit (`None`: not located).
    /// Scoped roles see only the devices inside their territory; others
    /// are answered as if they did not exist.
    Device(Option<&'a UnitCode>),
    /// An incident (grouped detections) located in this unit; one outside
    /// the caller's territory is hidden like a case (404). `None` is an
    /// incident that does not exist: only callers who see every incident
    /// may learn that, so asking for one answers exactly like asking for
    /// one outside one's territory.
    Incident(Option<&'a UnitCode>),
}

/// Everything that can be asked of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Read the territory tree, boundaries, locate points, read categories and departments.
    ReadReference,
    /// Change categories, departments, territory.
    ManageReference,
    /// Manage users and devices.
    ManageAccounts,
    /// Report a new case at a place.
    CreateCase,
    /// Read a case (and its timeline and attachments).
    ReadCase,
    /// See a case's personal data unmasked (always audited).
    UnmaskCase,
    /// Act on a case.
    ActOnCase(ActionKind),
    /// Upload an attachment.
    UploadAttachment,
    /// Read the audit trail.
    ReadAudit,
    /// Read operational metrics.
    ReadMetrics,
    /// A device reads its own registration.
    ReadOwnDevice,
    /// Read a device's readings (water-quality samples and their classes).
    ReadReadings,
    /// A device (or gateway) submits detections; which devices it may
    /// submit for is the intake's check, not the policy's.
    SubmitDetections,
    /// Read incidents and their detections, and false-positive rates.
    ReadIncident,
    /// Review an incident: confirm, dismiss, merge, promote to a case.
    ReviewIncident,
}

/// Refusal: the caller may not, or may not know the resource exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The role may never do this (403).
    Forbidden,
    /// The resource is outside the caller's scope; answer as if it did not exist (404).
    OutOfScope,
}

/// May `p` perform `op` on a resource in `scope`?
pub fn authorize(p: &Principal, op: Operation, scope: &Scope<'_>) -> Result<(), Denial> {
    use Operation as O;
    use Role as R;
    if p.role == R::Device && !matches!(op, O::ReadOwnDevice | O::SubmitDetections) {
        // Devices only feed detections and read themselves; cases and incidents stay invisible to them.
        return Err(if matches!(scope, Scope::Case(_) | Scope::Incident(_)) {
            Denial::OutOfScope
        } else {
            Denial::Forbidden
        });
    }
    let role_ok = match op {
        O::ReadReference => true,
        O::ManageReference | O::ManageAccounts => p.role == R::Admin,
        O::CreateCase => matches!(p.role, R::Operator | R::GridWorker | R::Citizen | R::DepartmentHandler),
        O::ReadCase => p.role != R::Mediator,
        O::UnmaskCase => matches!(p.role, R::Operator | R::DepartmentHandler),
        O::ActOnCase(a) => may_act(p.role, a),
        O::UploadAttachment => matches!(p.role, R::Operator | R::GridWorker | R::Citizen | R::DepartmentHandler),
        O::ReadAudit => matches!(p.role, R::Auditor | R::Admin),
        O::ReadMetrics => matches!(p.role, R::Admin | R::Auditor | R::Operator),
        O::ReadOwnDevice | O::SubmitDetections => p.role == R::Device,
        O::ReadReadings => matches!(p.role, R::Admin | R::Operator | R::GridWorker | R::Auditor),
        O::ReadIncident => matches!(p.role, R::Admin | R::Auditor | R::Operator | R::GridWorker),
        O::ReviewIncident => p.role == R::Operator,
    };
    if !role_ok {
        // Out-of-scope resources stay invisible even to a role that could never act on them.
        return match scope {
            Scope::Case(c) if !sees_case(p, c) => Err(Denial::OutOfScope),
            Scope::Incident(t) if !sees_incident(p, *t) => Err(Denial::OutOfScope),
            _ => Err(Denial::Forbidden),
        };
    }
    match scope {
        Scope::Global => Ok(()),
        Scope::Place(unit) => match p.role {
            R::Operator | R::GridWorker if !p.in_unit(unit) => Err(Denial::Forbidden),
            _ => Ok(()),
        },
        Scope::Device(unit) => match p.role {
            R::Operator | R::GridWorker if !unit.is_some_and(|u| p.in_unit(u)) => Err(Denial::OutOfScope),
            _ => Ok(()),
        },
        Scope::Incident(t) => {
            if sees_incident(p, *t) {
                Ok(())
            } else {
                Err(Denial::OutOfScope)
            }
        }
        Scope::Case(c) => {
            if !sees_case(p, c) {
                return Err(Denial::OutOfScope);
            }
            // A department acts only while it leads the case.
            let leads = c.department.is_some() && c.department == p.department.as_deref();
            match (p.role, op) {
                (R::DepartmentHandler, O::ActOnCase(_) | O::UnmaskCase) if !leads => Err(Denial::Forbidden),
                // Citizens and grid workers act on their own reports only.
                (R::Citizen, O::ActOnCase(_)) if c.reporter != p.id => Err(Denial::Forbidden),
                (R::GridWorker, O::ActOnCase(ActionKind::SelfHandle)) if c.reporter != p.id => Err(Denial::Forbidden),
                _ => Ok(()),
            }
        }
    }
}

/// Which incidents a principal may see: like cases by territory for the
/// territorial roles, everything for administrators and auditors, nothing
/// for anyone else (departments see the cases promoted to them, not the
/// raw incidents).
pub fn incident_visibility(p: &Principal) -> CaseScope {
    match (p.role, &p.unit) {
        (Role::Admin | Role::Auditor, _) => CaseScope::All,
        (Role::Operator | Role::GridWorker, Some(u)) => CaseScope::Territory(u.clone()),
        _ => CaseScope::Nothing,
    }
}

fn sees_incident(p: &Principal, territory: Option<&UnitCode>) -> bool {
    match (incident_visibility(p), territory) {
        (CaseScope::All, _) => true,
        (CaseScope::Territory(u), Some(t)) => u.contains(t),
        _ => false,
    }
}

fn sees_case(p: &Principal, c: &CaseFacts<'_>) -> bool {
    match case_visibility(p) {
        CaseScope::All => true,
        CaseScope::Territory(u) => u.contains(c.territory),
        CaseScope::Department(d) => c.departments_ever.contains(&d),
        CaseScope::Reporter(r) => c.reporter == r,
        CaseScope::Nothing => false,
    }
}

/// The case actions a role may take (scope is checked separately).
pub fn may_act(role: Role, a: ActionKind) -> bool {
    use ActionKind as A;
    match role {
        Role::Operator => !matches!(a, A::Report | A::Acknowledge | A::Return | A::Handle | A::SelfHandle),
        Role::GridWorker => matches!(a, A::SelfHandle | A::Verify),
        Role::DepartmentHandler => matches!(a, A::Acknowledge | A::Return | A::Handle),
        Role::Citizen => a == A::Evaluate,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> UnitCode {
        UnitCode::parse(s).unwrap()
    }

    fn who(role: Role, unit: Option<&str>, dept: Option<&str>) -> Principal {
        Principal { id: format!("{role}-1"), role, unit: unit.map(code), department: dept.map(str::to_owned) }
    }

    #[test]
    fn township_operator_never_sees_another_township() {
        let op = who(Role::Operator, Some("340202001"), None);
        let here = code("340202001001001");
        let there = code("340202002001001");
        let depts = vec![];
        let case =
            |t| Scope::Case(CaseFacts { territory: t, reporter: "x", department: None, departments_ever: &depts });
        assert_eq!(authorize(&op, Operation::ReadCase, &case(&here)), Ok(()));
        assert_eq!(authorize(&op, Operation::ReadCase, &case(&there)), Err(Denial::OutOfScope));
        assert_eq!(authorize(&op, Operation::ActOnCase(ActionKind::Register), &case(&there)), Err(Denial::OutOfScope));
        assert_eq!(authorize(&op, Operation::CreateCase, &Scope::Place(&there)), Err(Denial::Forbidden));
    }

    #[test]
    fn departments_see_what_was_dispatched_to_them_and_act_only_while_leading() {
        let h = who(Role::DepartmentHandler, None, Some("D1"));
        let t = code("340202001001001");
        let ever = vec!["D1".to_owned(), "D2".to_owned()];
        let led_by =
            |d| Scope::Case(CaseFacts { territory: &t, reporter: "x", department: d, departments_ever: &ever });
        assert_eq!(authorize(&h, Operation::ReadCase, &led_by(Some("D2"))), Ok(()));
        assert_eq!(
            authorize(&h, Operation::ActOnCase(ActionKind::Handle), &led_by(Some("D2"))),
            Err(Denial::Forbidden)
        );
        assert_eq!(authorize(&h, Operation::ActOnCase(ActionKind::Handle), &led_by(Some("D1"))), Ok(()));
        assert_eq!(
            authorize(&h, Operation::ActOnCase(ActionKind::Dispatch), &led_by(Some("D1"))),
            Err(Denial::Forbidden)
        );
        let none: Vec<String> = vec![];
        let never = Scope::Case(CaseFacts { territory: &t, reporter: "x", department: None, departments_ever: &none });
        assert_eq!(authorize(&h, Operation::ReadCase, &never), Err(Denial::OutOfScope));
    }

    #[test]
    fn citizens_see_and_rate_only_their_own() {
        let c = who(Role::Citizen, None, None);
        let t = code("340202001001001");
        let d = vec![];
        let mine =
            Scope::Case(CaseFacts { territory: &t, reporter: "citizen-1", department: None, departments_ever: &d });
        let theirs =
            Scope::Case(CaseFacts { territory: &t, reporter: "other", department: None, departments_ever: &d });
        assert_eq!(authorize(&c, Operation::ActOnCase(ActionKind::Evaluate), &mine), Ok(()));
        assert_eq!(authorize(&c, Operation::ActOnCase(ActionKind::Close), &mine), Err(Denial::Forbidden));
        assert_eq!(authorize(&c, Operation::ReadCase, &theirs), Err(Denial::OutOfScope));
        assert_eq!(authorize(&c, Operation::UnmaskCase, &mine), Err(Denial::Forbidden));
        assert_eq!(case_visibility(&c), CaseScope::Reporter("citizen-1".into()));
    }

    #[test]
    fn admins_manage_but_do_not_handle_cases_or_see_personal_data() {
        let a = who(Role::Admin, None, None);
        assert_eq!(authorize(&a, Operation::ManageAccounts, &Scope::Global), Ok(()));
        let t = code("340202001001001");
        let d = vec![];
        let case = Scope::Case(CaseFacts { territory: &t, reporter: "x", department: None, departments_ever: &d });
        assert_eq!(authorize(&a, Operation::ReadCase, &case), Ok(()));
        assert_eq!(authorize(&a, Operation::UnmaskCase, &case), Err(Denial::Forbidden));
        assert_eq!(authorize(&a, Operation::ActOnCase(ActionKind::Close), &case), Err(Denial::Forbidden));
    }

    #[test]
    fn devices_and_mediators_see_no_cases() {
        let t = code("340202001001001");
        let d = vec![];
        let case = Scope::Case(CaseFacts { territory: &t, reporter: "x", department: None, departments_ever: &d });
        for p in [who(Role::Device, None, None), who(Role::Mediator, Some("340202001"), None)] {
            assert_eq!(case_visibility(&p), CaseScope::Nothing);
            // Not even a case's existence is revealed.
            assert_eq!(authorize(&p, Operation::ReadCase, &case), Err(Denial::OutOfScope));
            assert_eq!(authorize(&p, Operation::ActOnCase(ActionKind::Register), &case), Err(Denial::OutOfScope));
        }
    }

    #[test]
    fn readings_are_read_within_the_station_territory() {
        let here = code("340202001001001");
        let there = code("340207001001001");
        let op = who(Role::Operator, Some("340202"), None);
        assert_eq!(authorize(&op, Operation::ReadReadings, &Scope::Device(Some(&here))), Ok(()));
        assert_eq!(authorize(&op, Operation::ReadReadings, &Scope::Device(Some(&there))), Err(Denial::OutOfScope));
        assert_eq!(authorize(&op, Operation::ReadReadings, &Scope::Device(None)), Err(Denial::OutOfScope));
        for r in [Role::Admin, Role::Auditor] {
            assert_eq!(authorize(&who(r, None, None), Operation::ReadReadings, &Scope::Device(Some(&there))), Ok(()));
        }
        for r in [Role::Device, Role::Citizen, Role::Mediator, Role::DepartmentHandler] {
            let p = who(r, Some("340202"), Some("D1"));
            assert_eq!(authorize(&p, Operation::ReadReadings, &Scope::Device(Some(&here))), Err(Denial::Forbidden));
        }
    }

    #[test]
    fn bindings() {
        assert!(who(Role::Operator, None, None).check_binding().is_err());
        assert!(who(Role::Operator, Some("340202001001001"), None).check_binding().is_err());
        assert!(who(Role::Operator, Some("340202001001"), None).check_binding().is_ok());
        assert!(who(Role::GridWorker, Some("340202001"), None).check_binding().is_err());
        assert!(who(Role::DepartmentHandler, None, None).check_binding().is_err());
        assert!(who(Role::Citizen, None, None).check_binding().is_ok());
    }

    #[test]
    fn incidents_are_for_territorial_reviewers_and_detections_for_devices() {
        let here = code("340202001001001");
        let there = code("340207001001001");
        let op = who(Role::Operator, Some("340202"), None);
        let dev = Principal { id: "cam-1".into(), role: Role::Device, unit: None, department: None };
        let inc = |t| Scope::Incident(Some(t));
        assert_eq!(authorize(&op, Operation::ReadIncident, &inc(&here)), Ok(()));
        assert_eq!(authorize(&op, Operation::ReviewIncident, &inc(&here)), Ok(()));
        assert_eq!(authorize(&op, Operation::ReadIncident, &inc(&there)), Err(Denial::OutOfScope));
        assert_eq!(authorize(&op, Operation::ReviewIncident, &inc(&there)), Err(Denial::OutOfScope));
        assert_eq!(authorize(&op, Operation::SubmitDetections, &Scope::Global), Err(Denial::Forbidden));
        assert_eq!(authorize(&dev, Operation::SubmitDetections, &Scope::Global), Ok(()));
        assert_eq!(authorize(&dev, Operation::ReadIncident, &inc(&here)), Err(Denial::OutOfScope));
        assert_eq!(authorize(&dev, Operation::ReadIncident, &Scope::Global), Err(Denial::Forbidden));
        let citizen = who(Role::Citizen, None, None);
        assert_eq!(authorize(&citizen, Operation::ReadIncident, &inc(&here)), Err(Denial::OutOfScope));
        assert_eq!(authorize(&citizen, Operation::SubmitDetections, &Scope::Global), Err(Denial::Forbidden));
        let auditor = who(Role::Auditor, None, None);
        assert_eq!(authorize(&auditor, Operation::ReadIncident, &inc(&there)), Ok(()));
        assert_eq!(authorize(&auditor, Operation::ReviewIncident, &inc(&there)), Err(Denial::Forbidden));
        // A missing incident answers like one out of scope, except to those who see all.
        assert_eq!(authorize(&op, Operation::ReadIncident, &Scope::Incident(None)), Err(Denial::OutOfScope));
        assert_eq!(authorize(&dev, Operation::ReadIncident, &Scope::Incident(None)), Err(Denial::OutOfScope));
        assert_eq!(authorize(&auditor, Operation::ReadIncident, &Scope::Incident(None)), Ok(()));
        assert_eq!(authorize(&auditor, Operation::ReviewIncident, &Scope::Incident(None)), Err(Denial::Forbidden));
        assert_eq!(incident_visibility(&op), CaseScope::Territory(code("340202")));
        assert_eq!(incident_visibility(&who(Role::DepartmentHandler, None, Some("d"))), CaseScope::Nothing);
    }
}
