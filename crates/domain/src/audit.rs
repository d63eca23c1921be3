//! The tamper-evident audit trail (审计日志): each record carries the hash of
//! the one before, so an edited, removed or reordered record breaks the chain
//! at a point [`verify_chain`] can name.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash the first record chains from.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How an audited attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done.
    Ok,
    /// Refused by policy.
    Denied,
    /// Attempted but failed (bad credentials, invalid input).
    Failed,
}

impl Outcome {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<Outcome> {
        [Outcome::Ok, Outcome::Denied, Outcome::Failed].into_iter().find(|o| o.as_str() == s)
    }
}

/// What the caller supplies; the store numbers and chains it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (user id, device id, or `system`).
    pub actor: String,
    /// Their role.
    pub role: String,
    /// What, as `noun.verb`, e.g. `case.create`.
    pub action: String,
    /// Which resource, e.g. `case/42`.
    pub resource: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The client's address, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// Extra context; never secrets or personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl AuditEvent {
    /// An event by `actor` in `role` about `resource`, at `at`, that succeeded.
    pub fn ok(at: DateTime<Utc>, actor: &str, role: &str, action: &str, resource: impl Into<String>) -> Self {
        AuditEvent {
            at,
            actor: actor.to_owned(),
            role: role.to_owned(),
            action: action.to_owned(),
            resource: resource.into(),
            outcome: Outcome::Ok,
            source_ip: None,
            detail: None,
        }
    }
}

/// A stored, numbered and chained audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRecord {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// The event.
    #[serde(flatten)]
    pub event: AuditEvent,
    /// The previous record's hash (hex).
    pub prev_hash: String,
    /// This record's hash (hex).
    pub hash: String,
}

fn field(h: &mut Sha256, s: &str) {
    // Length-prefixed so that no two different records hash the same bytes.
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

/// The hash of record `seq` with `event`, chained from `prev_hash`.
pub fn chain_hash(seq: u64, event: &AuditEvent, prev_hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(seq.to_be_bytes());
    field(&mut h, &event.at.to_rfc3339_opts(SecondsFormat::Micros, true));
    field(&mut h, &event.actor);
    field(&mut h, &event.role);
    field(&mut h, &event.action);
    field(&mut h, &event.resource);
    field(&mut h, event.outcome.as_str());
    field(&mut h, event.source_ip.as_deref().unwrap_or(""));
    field(&mut h, event.detail.as_deref().unwrap_or(""));
    field(&mut h, prev_hash);
    hex::encode(h.finalize())
}

impl AuditRecord {
    /// Numbers and chains `event` after the record `(prev_seq, prev_hash)`.
    pub fn chain(event: AuditEvent, prev_seq: u64, prev_hash: &str) -> AuditRecord {
        let seq = prev_seq + 1;
        let hash = chain_hash(seq, &event, prev_hash);
        AuditRecord { seq, event, prev_hash: prev_hash.to_owned(), hash }
    }
}

/// Where and how the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The `seq` of the first record that does not fit.
    pub seq: u64,
    /// Its position in the sequence checked, from 0.
    pub position: usize,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "audit record {} (position {}): {}", self.seq, self.position, self.reason)
    }
}

/// Checks records in stored order: numbering without gaps from 1, each
/// linked to its predecessor, each hash matching its content.
pub fn verify_chain<'a>(records: impl IntoIterator<Item = &'a AuditRecord>) -> Result<u64, ChainBreak> {
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut count = 0;
    for (expect_seq, (position, r)) in (1u64..).zip(records.into_iter().enumerate()) {
        let fail = |reason: String| ChainBreak { seq: r.seq, position, reason };
        if r.seq != expect_seq {
            return Err(fail(format!("expected record {expect_seq} here: a record was removed or reordered")));
        }
        if r.prev_hash != prev_hash {
            return Err(fail(
                "its link to the previous record does not match: a record before it was removed, reordered or altered"
                    .into(),
            ));
        }
        if chain_hash(r.seq, &r.event, &r.prev_hash) != r.hash {
            return Err(fail("its content does not match its hash: it was altered".into()));
        }
        prev_hash = r.hash.clone();
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = vec![];
        for i in 0..n {
            let (seq, prev) = out.last().map_or((0, GENESIS_HASH.to_owned()), |r| (r.seq, r.hash.clone()));
            let e = AuditEvent::ok(DateTime::<Utc>::UNIX_EPOCH, "u1", "operator", "case.create", format!("case/{i}"));
            out.push(AuditRecord::chain(e, seq, &prev));
        }
        out
    }

    #[test]
    fn a_clean_chain_verifies() {
        assert_eq!(verify_chain(&chain(5)), Ok(5));
        assert_eq!(verify_chain(&[]), Ok(0));
    }

    #[test]
    fn an_edit_is_found_where_it_happened() {
        let mut c = chain(5);
        c[2].event.actor = "intruder".into();
        let err = verify_chain(&c).unwrap_err();
        assert_eq!((err.seq, err.position), (3, 2));
        assert!(err.reason.contains("altered"));
    }

    #[test]
    fn a_removal_or_reordering_is_found() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(verify_chain(&c).unwrap_err().position, 1);
        let mut c = chain(5);
        c.swap(3, 4);
        assert_eq!(verify_chain(&c).unwrap_err().position, 3);
    }

    #[test]
    fn a_rehashed_edit_still_breaks_the_next_link() {
        let mut c = chain(5);
        c[1].event.resource = "case/999".into();
        c[1].hash = chain_hash(c[1].seq, &c[1].event, &c[1].prev_hash);
        let err = verify_chain(&c).unwrap_err();
        assert_eq!(err.seq, 3);
    }
}
