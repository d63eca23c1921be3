//! What every use case on an existing case starts with: load it, and
//! authorize the operation against the policy's view of it. Also the
//! checks shared by reporting and acting (cited attachments), and reading
//! the sealed contact.

use std::sync::Arc;

use citygrid_domain::access::{CaseFacts, Operation, Scope};
use citygrid_domain::case::{Case, CaseId, TimelineEntry};
use citygrid_domain::personal::Contact;
use citygrid_store::{CaseRecord, Store};

use crate::actor::Actor;
use crate::core::Core;
use crate::error::{AppError, AppResult};

/// Every department a timeline ever dispatched the case to.
pub fn departments_ever(timeline: &[TimelineEntry]) -> Vec<String> {
    let mut v: Vec<String> = timeline
        .iter()
        .filter_map(|e| e.data.department.as_ref().map(|d| std::iter::once(d).chain(&e.data.assists)))
        .flatten()
        .cloned()
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The policy's view of a case.
pub fn facts<'a>(case: &'a Case, ever: &'a [String]) -> CaseFacts<'a> {
    CaseFacts {
        territory: &case.territory,
        reporter: &case.reporter,
        department: case.department.as_deref(),
        departments_ever: ever,
    }
}

impl<S: Store> Core<S> {
    /// Loads a case `actor` may perform `op` on: [`AppError::NotFound`] when
    /// absent, [`AppError::OutOfScope`] (audited) when outside their scope.
    pub async fn case_for(&self, actor: &Actor, id: CaseId, op: Operation) -> AppResult<Arc<CaseRecord>> {
        let resource = format!("case/{id}");
        let Some(rec) = self.store.case(id).await? else {
            return Err(AppError::NotFound(resource));
        };
        let ever = departments_ever(&rec.timeline);
        self.authorize_actor(actor, op, &Scope::Case(facts(&rec.case, &ever)), &resource).await?;
        Ok(rec)
    }

    /// Checks every cited attachment exists (422 `unknown_attachment` in HTTP terms).
    pub async fn check_evidence(&self, evidence: &[String]) -> AppResult<()> {
        if evidence.is_empty() {
            return Ok(());
        }
        let missing = self.store.missing_attachments(evidence.to_vec()).await?;
        if missing.is_empty() {
            Ok(())
        } else {
            Err(AppError::rule("unknown_attachment", format!("upload these attachments first: {}", missing.join(", "))))
        }
    }
}

impl<S> Core<S> {
    /// Opens a sealed contact in the clear (callers audit the read).
    pub fn open_contact(&self, rec: &CaseRecord) -> AppResult<Option<Contact>> {
        rec.contact.as_ref().map(|s| self.vault.open(&s.ciphertext).map_err(AppError::from)).transpose()
    }

    /// Opens a sealed contact and masks it.
    pub fn masked_contact(&self, rec: &CaseRecord) -> AppResult<Option<Contact>> {
        self.open_contact(rec).map(|c| c.map(|c| c.masked()))
    }
}
