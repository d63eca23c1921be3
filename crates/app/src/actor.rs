//! Who is acting, and the one authorize-and-audit step every use case
//! takes: the policy engine (`citygrid_domain::access`) decides, a denial is
//! written to the audit trail, and every write carries an audit event naming
//! the actor.

use std::net::IpAddr;

use chrono::Utc;
use citygrid_domain::access::{Denial, Operation, Principal, Role, Scope, authorize};
use citygrid_domain::audit::{AuditEvent, Outcome};
use citygrid_store::Store;

use crate::core::Core;
use crate::error::{AppError, AppResult};

/// The principal a use case runs for, and where the request came from.
/// HTTP builds it from the session; a listener from the device key; a
/// scheduler or the CLI uses [`Actor::system`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Who, with their role and bindings.
    pub principal: Principal,
    /// The client address, when there is one (recorded in the audit trail).
    pub ip: Option<IpAddr>,
}

impl Actor {
    /// An actor for a principal, from an address.
    pub fn new(principal: Principal, ip: Option<IpAddr>) -> Actor {
        Actor { principal, ip }
    }

    /// The platform itself acting with administrator rights under the
    /// name `id` (`cli`, `scheduler`, …): what the audit trail records.
    pub fn system(id: &str) -> Actor {
        Actor::new(Principal { id: id.to_owned(), role: Role::Admin, unit: None, department: None }, None)
    }
}

impl<S: Store> Core<S> {
    /// Applies the policy; a denial is audited and becomes
    /// [`AppError::Forbidden`], or [`AppError::OutOfScope`] when the resource
    /// is outside the caller's scope.
    pub async fn authorize(
        &self,
        who: &Principal,
        ip: Option<IpAddr>,
        op: Operation,
        scope: &Scope<'_>,
        resource: &str,
    ) -> AppResult<()> {
        #[cfg(feature = "unchecked-baseline")]
        if self.unchecked_baseline {
            return Ok(());
        }
        match authorize(who, op, scope) {
            Ok(()) => Ok(()),
            Err(denial) => {
                let mut ev = self.audit_event(who, ip, &format!("denied.{}", op_name(op)), resource);
                ev.outcome = Outcome::Denied;
                self.store.append_audit(ev).await?;
                Err(match denial {
                    Denial::Forbidden => AppError::Forbidden,
                    Denial::OutOfScope => AppError::OutOfScope(resource.to_owned()),
                })
            }
        }
    }

    /// [`Core::authorize`] for an [`Actor`].
    pub async fn authorize_actor(
        &self,
        actor: &Actor,
        op: Operation,
        scope: &Scope<'_>,
        resource: &str,
    ) -> AppResult<()> {
        self.authorize(&actor.principal, actor.ip, op, scope, resource).await
    }

    /// An audit event by `who`, now.
    pub fn audit_event(&self, who: &Principal, ip: Option<IpAddr>, action: &str, resource: &str) -> AuditEvent {
        let mut ev = AuditEvent::ok(Utc::now(), &who.id, who.role.as_str(), action, resource);
        ev.source_ip = ip.map(|i| i.to_string());
        ev
    }

    /// [`Core::audit_event`] for an [`Actor`].
    pub fn actor_event(&self, actor: &Actor, action: &str, resource: &str) -> AuditEvent {
        self.audit_event(&actor.principal, actor.ip, action, resource)
    }
}

/// A short name for an operation in audit records.
pub fn op_name(op: Operation) -> String {
    match op {
        Operation::ReadReference => "read_reference".into(),
        Operation::ManageReference => "manage_reference".into(),
        Operation::ManageAccounts => "manage_accounts".into(),
        Operation::CreateCase => "create_case".into(),
        Operation::ReadCase => "read_case".into(),
        Operation::UnmaskCase => "unmask_case".into(),
        Operation::ActOnCase(a) => format!("case_{a}"),
        Operation::UploadAttachment => "upload_attachment".into(),
        Operation::ReadAudit => "read_audit".into(),
        Operation::ReadMetrics => "read_metrics".into(),
        Operation::ReadOwnDevice => "read_own_device".into(),
        Operation::ReadReadings => "read_readings".into(),
        Operation::SubmitDetections => "submit_detections".into(),
        Operation::ReadIncident => "read_incident".into(),
        Operation::ReviewIncident => "review_incident".into(),
    }
}
