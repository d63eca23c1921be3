//! The tamper-evident audit trail (审计日志): each record carries the hash of
//! the one before, so an edited, removed or reordered record breaks the chain
//! at a point [`verify_chain`] can name.
//!
//! # What verification proves
//!
//! The trail is one or more independent hash chains. [`verify_chain`] proves
//! that within every chain no record was altered, removed, inserted or
//! reordered, and that no record moved between chains; across chains it
//! proves the `seq` order. What a hash chain cannot show on its own is that
//! the *newest* records of a chain were cut off: the shortened chain is
//! still a valid chain.
//!
//! Checkpoints close most of that gap. A background job periodically
//! appends an [`CHECKPOINT_ACTION`] record whose `detail` names every
//! chain's head at that moment ([`Checkpoint`]). [`verify_trail`] runs
//! [`verify_chain`] and then checks, for every checkpoint, that each head it
//! names is still in the trail as record (chain, link) with that hash; a
//! missing one means records of that chain up to that link were cut off
//! after the checkpoint was written. As checkpoints are records in a chain
//! themselves, each checkpoint also vouches for the ones before it.
//!
//! What remains: records written after the **last** checkpoint, and the last
//! checkpoints themselves, can be cut off without a trace in the trail, as
//! can everything in a trail where one holder of the database rewrites every
//! chain and every checkpoint. Only a copy kept elsewhere catches that:
//! operators should ship each checkpoint's hashes off the machine (the job
//! logs them; forward the log, or export the records to write-once storage)
//! and compare the trail with the last exported checkpoint, whose heads must
//! all still be in it.

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
///
/// The trail is one or more independent hash chains. A single-process
/// backend keeps one (chain 0); a backend shared by many processes keeps one
/// per shard so that writes on different shards never wait for each other.
/// Each chain is verifiable on its own from [`GENESIS_HASH`]; `seq` orders
/// the whole trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRecord {
    /// Position in the whole trail: unique and ascending in the order the
    /// records were written (a multi-chain backend may leave gaps).
    pub seq: u64,
    /// Which chain the record belongs to.
    #[serde(default)]
    pub chain: u32,
    /// Position in its chain, from 1, without gaps.
    #[serde(default)]
    pub link: u64,
    /// The event.
    #[serde(flatten)]
    pub event: AuditEvent,
    /// The hash of the previous record in its chain (hex).
    pub prev_hash: String,
    /// This record's hash (hex).
    pub hash: String,
}

/// The last record of one chain: where the next record links on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// The chain.
    pub chain: u32,
    /// The last record's link number (0 for an empty chain).
    pub link: u64,
    /// The last record's hash ([`GENESIS_HASH`] for an empty chain).
    pub hash: String,
}

impl ChainHead {
    /// The head of an empty chain.
    pub fn genesis(chain: u32) -> ChainHead {
        ChainHead { chain, link: 0, hash: GENESIS_HASH.to_owned() }
    }
}

fn field(h: &mut Sha256, s: &str) {
    // Length-prefixed so that no two different records hash the same bytes.
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

/// The hash of record `link` of `chain` with `event`, chained from
/// `prev_hash`. Chain 0 hashes exactly as the single-chain trail always did,
/// so trails written before chains existed still verify; any other chain's
/// number is hashed too, so a record cannot move between chains.
pub fn chain_hash(chain: u32, link: u64, event: &AuditEvent, prev_hash: &str) -> String {
    let mut h = Sha256::new();
    if chain != 0 {
        h.update(b"chain");
        h.update(chain.to_be_bytes());
    }
    h.update(link.to_be_bytes());
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
    /// Chains `event` after `head`, numbered `seq` in the whole trail.
    pub fn chain(event: AuditEvent, seq: u64, head: &ChainHead) -> AuditRecord {
        let link = head.link + 1;
        let hash = chain_hash(head.chain, link, &event, &head.hash);
        AuditRecord { seq, chain: head.chain, link, event, prev_hash: head.hash.clone(), hash }
    }

    /// The head its chain has once it is written.
    pub fn head(&self) -> ChainHead {
        ChainHead { chain: self.chain, link: self.link, hash: self.hash.clone() }
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

/// Checks a whole trail in stored order: `seq` ascending, and in every chain
/// links numbered without gaps from 1, each linked to its predecessor, each
/// hash matching its content. Returns how many records were checked.
pub fn verify_chain<'a>(records: impl IntoIterator<Item = &'a AuditRecord>) -> Result<u64, ChainBreak> {
    let mut heads: std::collections::HashMap<u32, ChainHead> = std::collections::HashMap::new();
    let mut last_seq = 0u64;
    let mut count = 0;
    for (position, r) in records.into_iter().enumerate() {
        let fail = |reason: String| ChainBreak { seq: r.seq, position, reason };
        if r.seq <= last_seq {
            return Err(fail(format!("it comes after record {last_seq}: the trail was reordered")));
        }
        let head = heads.entry(r.chain).or_insert_with(|| ChainHead::genesis(r.chain));
        if r.link != head.link + 1 {
            return Err(fail(format!(
                "expected link {} of chain {} here: a record was removed or reordered",
                head.link + 1,
                r.chain
            )));
        }
        if r.prev_hash != head.hash {
            return Err(fail(
                "its link to the previous record does not match: a record before it was removed, reordered or altered"
                    .into(),
            ));
        }
        if chain_hash(r.chain, r.link, &r.event, &r.prev_hash) != r.hash {
            return Err(fail("its content does not match its hash: it was altered".into()));
        }
        *head = r.head();
        last_seq = r.seq;
        count += 1;
    }
    Ok(count)
}

/// The action of a checkpoint record.
pub const CHECKPOINT_ACTION: &str = "audit.checkpoint";

/// What a checkpoint record's `detail` holds: every chain's head as read just
/// before the checkpoint was written (chains with no record left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The heads, one per chain.
    pub heads: Vec<ChainHead>,
}

impl Checkpoint {
    /// The checkpoint of `heads`, leaving out empty chains (link 0).
    pub fn of(heads: &[ChainHead]) -> Checkpoint {
        let mut heads: Vec<ChainHead> = heads.iter().filter(|h| h.link > 0).cloned().collect();
        heads.sort_by_key(|h| h.chain);
        Checkpoint { heads }
    }

    /// The record's `detail`: `{"heads":[{"chain":c,"link":l,"hash":"…"},…]}`.
    pub fn detail(&self) -> String {
        let heads: Vec<String> = self
            .heads
            .iter()
            .map(|h| {
                let hash = serde_json::Value::String(h.hash.clone());
                format!("{{\"chain\":{},\"link\":{},\"hash\":{hash}}}", h.chain, h.link)
            })
            .collect();
        format!("{{\"heads\":[{}]}}", heads.join(","))
    }

    /// Reads a checkpoint record's `detail`.
    pub fn parse(detail: &str) -> Result<Checkpoint, String> {
        let cp: Checkpoint = serde_json::from_str(detail).map_err(|e| e.to_string())?;
        if let Some(h) = cp.heads.iter().find(|h| h.link == 0) {
            return Err(format!("it names link 0 of chain {}", h.chain));
        }
        Ok(cp)
    }

    /// The checkpoint's audit event, by `system`, about `audit`, at `at`.
    pub fn event(&self, at: DateTime<Utc>) -> AuditEvent {
        let mut e = AuditEvent::ok(at, "system", "system", CHECKPOINT_ACTION, "audit");
        e.detail = Some(self.detail());
        e
    }
}

/// What a verified trail holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrailSummary {
    /// Records checked.
    pub records: u64,
    /// Checkpoint records among them, every one of whose heads was found.
    pub checkpoints: u64,
}

/// Checks a whole trail in stored order: [`verify_chain`], then every
/// checkpoint (see the module docs): each head a checkpoint names must be in
/// the trail as record (chain, link) with that hash. A checkpoint whose
/// detail cannot be read is reported as a break, like a missing head.
pub fn verify_trail(records: &[AuditRecord]) -> Result<TrailSummary, ChainBreak> {
    let count = verify_chain(records)?;
    let hashes: std::collections::HashMap<(u32, u64), &str> =
        records.iter().map(|r| ((r.chain, r.link), r.hash.as_str())).collect();
    let mut checkpoints = 0;
    for (position, r) in records.iter().enumerate().filter(|(_, r)| r.event.action == CHECKPOINT_ACTION) {
        let fail = |reason: String| ChainBreak { seq: r.seq, position, reason };
        let cp = Checkpoint::parse(r.event.detail.as_deref().unwrap_or(""))
            .map_err(|e| fail(format!("this checkpoint's detail cannot be read ({e}), so it proves nothing")))?;
        for h in &cp.heads {
            match hashes.get(&(h.chain, h.link)) {
                None => {
                    return Err(fail(format!(
                        "records of chain {} up to link {} were cut off after the checkpoint at seq {}",
                        h.chain, h.link, r.seq
                    )));
                }
                Some(hash) if *hash != h.hash => {
                    return Err(fail(format!(
                        "record {} of chain {} is not the one the checkpoint at seq {} names: the chain was rewritten",
                        h.link, h.chain, r.seq
                    )));
                }
                Some(_) => {}
            }
        }
        checkpoints += 1;
    }
    Ok(TrailSummary { records: count, checkpoints })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = vec![];
        for i in 0..n {
            let head = out.last().map_or(ChainHead::genesis(0), AuditRecord::head);
            let e = AuditEvent::ok(DateTime::<Utc>::UNIX_EPOCH, "u1", "operator", "case.create", format!("case/{i}"));
            out.push(AuditRecord::chain(e, i + 1, &head));
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
        c[1].hash = chain_hash(0, c[1].link, &c[1].event, &c[1].prev_hash);
        let err = verify_chain(&c).unwrap_err();
        assert_eq!(err.seq, 3);
    }

    /// Records of chains 1 and 2 interleaved, numbered with gaps in `seq`.
    fn two_chains() -> Vec<AuditRecord> {
        let mut heads = [ChainHead::genesis(1), ChainHead::genesis(2)];
        (0..6u64)
            .map(|i| {
                let h = &mut heads[(i % 2) as usize];
                let e = AuditEvent::ok(DateTime::<Utc>::UNIX_EPOCH, "u1", "operator", "case.act", format!("case/{i}"));
                let r = AuditRecord::chain(e, 10 + 3 * i, h);
                *h = r.head();
                r
            })
            .collect()
    }

    #[test]
    fn interleaved_chains_verify_each_on_its_own() {
        let c = two_chains();
        assert_eq!(verify_chain(&c), Ok(6));
        let mut gone = c.clone();
        gone.remove(2);
        assert_eq!(verify_chain(&gone).unwrap_err().position, 3, "the next record of chain 1 names the gap");
    }

    #[test]
    fn a_record_cannot_move_to_another_chain() {
        let mut c = two_chains();
        c[4].chain = 2;
        c[4].link = 3;
        c[4].prev_hash = c[3].hash.clone();
        assert!(verify_chain(&c).unwrap_err().reason.contains("altered"));
    }

    /// Appends a checkpoint of `heads` to chain 2 of `trail`, numbered after it.
    fn checkpoint(trail: &mut Vec<AuditRecord>, heads: &[ChainHead]) {
        let seq = trail.last().map_or(1, |r| r.seq + 1);
        let head = trail.iter().rev().find(|r| r.chain == 2).map_or(ChainHead::genesis(2), AuditRecord::head);
        trail.push(AuditRecord::chain(Checkpoint::of(heads).event(DateTime::<Utc>::UNIX_EPOCH), seq, &head));
    }

    /// Chain 1's records, with checkpoints (on chain 2) after records 3 and 6.
    fn checkpointed() -> Vec<AuditRecord> {
        let mut trail: Vec<AuditRecord> = vec![];
        let mut head = ChainHead::genesis(1);
        for i in 0..6u64 {
            let e = AuditEvent::ok(DateTime::<Utc>::UNIX_EPOCH, "u1", "operator", "case.act", format!("case/{i}"));
            let seq = trail.last().map_or(1, |r| r.seq + 1);
            let r = AuditRecord::chain(e, seq, &head);
            head = r.head();
            trail.push(r);
            if i % 3 == 2 {
                let heads: Vec<ChainHead> = [1, 2]
                    .iter()
                    .map(|c| {
                        trail.iter().rev().find(|r| r.chain == *c).map_or(ChainHead::genesis(*c), AuditRecord::head)
                    })
                    .collect();
                checkpoint(&mut trail, &heads);
            }
        }
        trail
    }

    #[test]
    fn a_clean_trail_with_checkpoints_verifies() {
        let trail = checkpointed();
        assert_eq!(verify_trail(&trail), Ok(TrailSummary { records: 8, checkpoints: 2 }));
        let second = Checkpoint::parse(trail[7].event.detail.as_deref().unwrap()).unwrap();
        assert_eq!(second.heads.len(), 2, "chain 1's head and the first checkpoint: {second:?}");
        assert_eq!(verify_trail(&[]), Ok(TrailSummary::default()));
    }

    #[test]
    fn the_detail_is_the_documented_json() {
        let cp = Checkpoint::of(&[ChainHead::genesis(3), ChainHead { chain: 1, link: 7, hash: "ab".into() }]);
        assert_eq!(cp.detail(), r#"{"heads":[{"chain":1,"link":7,"hash":"ab"}]}"#, "empty chains left out");
        assert_eq!(Checkpoint::parse(&cp.detail()), Ok(cp));
    }

    #[test]
    fn a_tail_cut_before_a_checkpoint_is_found() {
        let trail = checkpointed();
        // Chain 1's records 5 and 6 (trail positions 5 and 6) go: chain 1
        // still verifies on its own, but the second checkpoint names link 6.
        let cut: Vec<AuditRecord> =
            trail.iter().enumerate().filter(|(i, _)| ![5, 6].contains(i)).map(|(_, r)| r.clone()).collect();
        assert_eq!(verify_chain(&cut), Ok(6), "the hash chains alone cannot tell");
        let err = verify_trail(&cut).unwrap_err();
        assert_eq!((err.seq, err.position), (8, 5));
        assert!(
            err.reason.contains("records of chain 1 up to link 6 were cut off after the checkpoint at seq 8"),
            "{err}"
        );
    }

    #[test]
    fn a_rewritten_tail_before_a_checkpoint_is_found() {
        let mut trail = checkpointed();
        // Chain 1's last record replaced by a different, correctly chained one.
        let mut e = trail[6].event.clone();
        e.resource = "case/999".into();
        let before = ChainHead { chain: 1, link: 5, hash: trail[6].prev_hash.clone() };
        trail[6] = AuditRecord::chain(e, trail[6].seq, &before);
        assert!(verify_chain(&trail).is_ok());
        assert!(verify_trail(&trail).unwrap_err().reason.contains("rewritten"));
    }

    #[test]
    fn a_malformed_checkpoint_is_reported() {
        for detail in [
            None,
            Some("not json"),
            Some(r#"{"heads":[{"chain":1}]}"#),
            Some(r#"{"heads":[{"chain":1,"link":0,"hash":"x"}]}"#),
        ] {
            let mut e = AuditEvent::ok(DateTime::<Utc>::UNIX_EPOCH, "system", "system", CHECKPOINT_ACTION, "audit");
            e.detail = detail.map(str::to_owned);
            let trail = vec![AuditRecord::chain(e, 1, &ChainHead::genesis(0))];
            let err = verify_trail(&trail).unwrap_err();
            assert_eq!((err.seq, err.position), (1, 0));
            assert!(err.reason.contains("cannot be read"), "{detail:?}: {err}");
        }
    }

    #[test]
    fn chain_zero_hashes_as_the_single_chain_trail_did() {
        let e = AuditEvent::ok(DateTime::<Utc>::UNIX_EPOCH, "u1", "operator", "case.create", "case/1");
        let r = AuditRecord::chain(e.clone(), 1, &ChainHead::genesis(0));
        // Pinned from the single-chain formula, so old trails keep verifying.
        assert_eq!(r.hash, "eafd7892717a8b5c25d41339d788000a40fb251c9abdfc407877f58fb99470b9");
        let other = AuditRecord::chain(e, 1, &ChainHead::genesis(1));
        assert_ne!(r.hash, other.hash);
    }
}
