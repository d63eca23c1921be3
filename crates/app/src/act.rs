//! Acting on a case: one step of the case loop (register, dispatch,
//! handle, verify, close, merge, …), whoever takes it: a person over HTTP,
//! an escalation fired by a scheduler, a dispute transferred from a case.

use citygrid_domain::access::Operation;
use citygrid_domain::case::{Action, Case, CaseId, DecideContext, TimelineEntry, decide};
use citygrid_domain::personal::Contact;
use citygrid_store::{Store, StoreError};

use crate::actor::Actor;
use crate::cases::departments_ever;
use crate::core::{Core, now};
use crate::error::{AppError, AppResult};

/// Attempts made when a concurrent change wins the race.
const ATTEMPTS: usize = 3;

/// A stored action.
#[derive(Debug, Clone)]
pub struct Acted {
    /// The case after the action.
    pub case: Case,
    /// The entry appended.
    pub entry: TimelineEntry,
    /// Every department the case was ever dispatched to, this action included.
    pub departments_ever: Vec<String>,
    /// The reporter's contact, masked.
    pub contact: Option<Contact>,
}

impl<S: Store> Core<S> {
    /// Performs one action on case `id`. The actor must be allowed to take
    /// this action on this case; cited attachments must exist; a merge
    /// target must be a case the actor can see; a dispatch names a known
    /// department (or the category's default for the case's territory).
    /// The loop's rules decide ([`AppError::InvalidTransition`] when the
    /// state forbids it) and the entry is appended with optimistic
    /// concurrency: if another change wins, the action is decided again on
    /// the new state, up to three times, then [`AppError::Conflict`].
    /// Audited as `case.<action>`.
    pub async fn act(&self, actor: &Actor, id: CaseId, action: Action) -> AppResult<Acted> {
        let who = &actor.principal;
        for attempt in 1..=ATTEMPTS {
            let rec = self.case_for(actor, id, Operation::ActOnCase(action.kind())).await?;
            if attempt == 1 {
                // Only after authorization, so that nobody can probe which attachments exist.
                self.check_evidence(action.evidence()).await?;
                // A duplicate may only be merged into a case the caller can see;
                // otherwise the answer would reveal which case ids exist elsewhere.
                if let Action::Merge { into, .. } = &action {
                    self.case_for(actor, *into, Operation::ReadCase).await?;
                }
            }
            let world = self.world();
            let catalog = &world.catalog;
            let mut action = action.clone();
            // The category the case will have after the action decides its limits.
            let code = match &action {
                Action::Register { category: Some(c), .. } => c.clone(),
                _ => rec.case.category.clone(),
            };
            let category = catalog
                .categories
                .get(&code)
                .ok_or_else(|| AppError::rule("unknown_category", format!("no category {code}")))?;
            if let Action::Dispatch { department, assists, .. } = &mut action {
                if department.is_none() {
                    let d = catalog.default_department(category, &rec.case.territory).ok_or_else(|| {
                        AppError::invalid(format!(
                            "no {} department serves {}; name one",
                            category.department_type, rec.case.territory
                        ))
                    })?;
                    *department = Some(d.code.clone());
                }
                if let Some(unknown) =
                    department.iter().chain(assists.iter()).find(|d| !catalog.departments.contains_key(*d))
                {
                    return Err(AppError::invalid(format!("no department {unknown}")));
                }
            }
            let ctx = DecideContext {
                now: now(),
                actor: &who.id,
                actor_role: who.role.as_str(),
                calendar: &self.calendar,
                category,
                policy: &self.policy,
            };
            let entry = decide(&rec.case, &action, &ctx)?;
            let mut case = rec.case.clone();
            case.apply(&entry);
            let audit = self.actor_event(actor, &format!("case.{}", entry.action), &format!("case/{id}"));
            match self.store.append_entry(case.clone(), entry.clone(), audit).await {
                Ok(()) => {
                    let mut timeline = rec.timeline.clone();
                    timeline.push(entry.clone());
                    let ever = departments_ever(&timeline);
                    let contact = self.masked_contact(&rec)?;
                    return Ok(Acted { case, entry, departments_ever: ever, contact });
                }
                Err(StoreError::Conflict(_)) if attempt < ATTEMPTS => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict("the case kept changing; reload and retry".into()))
    }
}
