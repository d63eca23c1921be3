//! Rules as data: label × zone kind × time of day × persistence → alert
//! type and severity.
//!
//! Matching policy: every rule is tried in order, and each alert type is
//! raised at most once per detection, by the first rule of that type that
//! matches. So a file lists the specific, more severe rule of a type
//! before the general one (night fishing before fishing), and one
//! detection can still raise two different types (a vessel both stationary
//! in a no-sand-mining reach and colliding). One alert per type keeps an
//! incident's count equal to the detections that fed it.
//!
//! The zone kinds at a detection's point are the caller's to find (the geo
//! layer locates the point among the zones active at that time); a rule
//! without a zone kind applies anywhere. Time windows are local hours in
//! China Standard Time, half-open, and may wrap midnight.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::alert::{Alert, AlertType, Severity};
use super::detection::{Detection, valid_label};
use super::grouping::GroupingConfig;
use super::persistence::{PersistenceTracker, TrackerConfig};
use crate::calendar::cst;
use crate::category::CategoryCode;
use crate::zone::{HourRange, ZoneKind};

/// Most rules in one set.
pub const MAX_RULES: usize = 256;
/// Most labels in one rule.
pub const MAX_LABELS: usize = 32;
/// Longest rule id.
pub const MAX_RULE_ID_LEN: usize = 64;
/// Longest persistence a rule may ask for, in minutes (a day).
pub const MAX_PERSISTENCE_MINUTES: u32 = 24 * 60;

/// How long the same device must have kept reporting the label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Persistence {
    /// Minutes, 1–[`MAX_PERSISTENCE_MINUTES`].
    pub minutes: u32,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable id, 1–64 characters of `A–Z a–z 0–9 . _ -`; false-positive
    /// rates are kept per rule id.
    pub id: String,
    /// Detection labels it applies to (any of them).
    pub labels: Vec<String>,
    /// The zone kind the detection must be in; `None` = anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_kind: Option<ZoneKind>,
    /// Local hours (CST) it applies in; `None` = all day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<HourRange>,
    /// Lowest detector score that counts, 0.0–1.0.
    #[serde(default)]
    pub min_score: f64,
    /// How long the device must have kept reporting the label; `None` = at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<Persistence>,
    /// The alert raised.
    pub alert: AlertType,
    /// Its severity.
    pub severity: Severity,
    /// Whether incidents it raises may be promoted to cases without review.
    #[serde(default)]
    pub auto_promote: bool,
}

impl Rule {
    /// The alert this rule raises for `d` (which it matched).
    pub fn alert_for<'a>(&self, d: &'a Detection) -> Alert<'a> {
        Alert {
            kind: self.alert,
            severity: self.severity,
            point: d.point(),
            at: d.at,
            device: &d.device,
            evidence: &d.evidence,
        }
    }

    fn validate(&self) -> Result<(), RuleError> {
        let rule = || self.id.clone();
        let id_ok = (1..=MAX_RULE_ID_LEN).contains(&self.id.len())
            && self.id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !id_ok {
            return Err(RuleError::BadId(self.id.clone()));
        }
        if self.labels.is_empty() {
            return Err(RuleError::NoLabels { rule: rule() });
        }
        if self.labels.len() > MAX_LABELS {
            return Err(RuleError::TooManyLabels { rule: rule() });
        }
        if let Some(label) = self.labels.iter().find(|l| !valid_label(l)) {
            return Err(RuleError::BadLabel { rule: rule(), label: label.clone() });
        }
        if !(0.0..=1.0).contains(&self.min_score) {
            return Err(RuleError::BadMinScore { rule: rule() });
        }
        if self.persistence.is_some_and(|p| !(1..=MAX_PERSISTENCE_MINUTES).contains(&p.minutes)) {
            return Err(RuleError::BadPersistence { rule: rule() });
        }
        if self.window.is_some_and(|w| w.from == w.to) {
            return Err(RuleError::EmptyWindow { rule: rule() });
        }
        Ok(())
    }
}

/// Why a rule set is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuleError {
    /// The TOML text does not parse or has the wrong shape.
    #[error("rules file: {0}")]
    Parse(String),
    /// More rules than [`MAX_RULES`].
    #[error("at most {MAX_RULES} rules")]
    TooManyRules,
    /// An id that is empty, too long or has other characters.
    #[error("rule id {0:?}: must be 1–64 characters of A–Z a–z 0–9 . _ -")]
    BadId(String),
    /// Two rules with one id.
    #[error("rule {0}: id used twice")]
    DuplicateId(String),
    /// A rule without labels.
    #[error("rule {rule}: needs at least one label")]
    NoLabels {
        /// The rule's id.
        rule: String,
    },
    /// A rule with more than [`MAX_LABELS`] labels.
    #[error("rule {rule}: at most {MAX_LABELS} labels")]
    TooManyLabels {
        /// The rule's id.
        rule: String,
    },
    /// A label that no detection could carry.
    #[error("rule {rule}: label {label:?} must be a–z, 0–9 and '_', starting with a letter, at most 64")]
    BadLabel {
        /// The rule's id.
        rule: String,
        /// The label.
        label: String,
    },
    /// A minimum score outside 0–1.
    #[error("rule {rule}: min_score must be from 0.0 to 1.0")]
    BadMinScore {
        /// The rule's id.
        rule: String,
    },
    /// A persistence outside 1 minute–1 day.
    #[error("rule {rule}: persistence must be 1–{MAX_PERSISTENCE_MINUTES} minutes")]
    BadPersistence {
        /// The rule's id.
        rule: String,
    },
    /// A window whose start equals its end (all day or never?).
    #[error("rule {rule}: window start and end must differ")]
    EmptyWindow {
        /// The rule's id.
        rule: String,
    },
    /// Persistence settings out of range.
    #[error("persistence: max_gap_secs 1–3600, max_drift_m > 0, capacity 1–10,000,000")]
    BadTracker,
}

/// Which rules a label can trigger, in rule order.
#[derive(Debug, Clone, Default)]
struct LabelRules {
    rules: Vec<usize>,
    /// Whether one of them needs persistence, so the label's streaks are kept.
    tracked: bool,
}

/// A validated, ordered set of rules, indexed by label.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    tracker: TrackerConfig,
    grouping: GroupingConfig,
    promote: BTreeMap<AlertType, CategoryCode>,
    by_label: HashMap<String, LabelRules>,
}

/// The rules file: `[persistence]` and `[grouping]` settings and `[[rule]]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    persistence: TrackerConfig,
    #[serde(default)]
    grouping: GroupingConfig,
    /// Alert type → the category code a promoted incident's case gets.
    #[serde(default)]
    promote: BTreeMap<AlertType, CategoryCode>,
    #[serde(default)]
    rule: Vec<Rule>,
}

impl RuleSet {
    /// Checks and indexes `rules` (order matters; see the module docs).
    pub fn new(rules: Vec<Rule>, tracker: TrackerConfig) -> Result<RuleSet, RuleError> {
        if rules.len() > MAX_RULES {
            return Err(RuleError::TooManyRules);
        }
        if !tracker.is_valid() {
            return Err(RuleError::BadTracker);
        }
        let mut ids = HashSet::new();
        let mut by_label: HashMap<String, LabelRules> = HashMap::new();
        for (i, rule) in rules.iter().enumerate() {
            rule.validate()?;
            if !ids.insert(rule.id.as_str()) {
                return Err(RuleError::DuplicateId(rule.id.clone()));
            }
            for label in &rule.labels {
                let entry = by_label.entry(label.clone()).or_default();
                // A label listed twice in one rule triggers it once.
                if entry.rules.last() != Some(&i) {
                    entry.rules.push(i);
                }
                entry.tracked |= rule.persistence.is_some();
            }
        }
        Ok(RuleSet { rules, tracker, grouping: GroupingConfig::default(), promote: BTreeMap::new(), by_label })
    }

    /// Reads a rules file: optional `[persistence]` (see [`TrackerConfig`]),
    /// optional `[grouping]` (see [`GroupingConfig`]) and `[[rule]]` tables
    /// with the fields of [`Rule`].
    pub fn from_toml(text: &str) -> Result<RuleSet, RuleError> {
        let file: RuleFile = toml::from_str(text).map_err(|e| RuleError::Parse(e.to_string()))?;
        let mut set = RuleSet::new(file.rule, file.persistence)?;
        set.grouping = file.grouping;
        set.promote = file.promote;
        Ok(set)
    }

    /// The category a promoted incident of `kind` becomes a case of (the
    /// file's `[promote]` table: `illegal_fishing = "E0701"`); whether the
    /// code names an active category is the catalogue's to say.
    pub fn promote_category(&self, kind: AlertType) -> Option<&CategoryCode> {
        self.promote.get(&kind)
    }

    /// The grouping settings the file gave (defaults otherwise), for a
    /// [`Grouper`](super::Grouper).
    pub fn grouping(&self) -> &GroupingConfig {
        &self.grouping
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule with this id.
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// A fresh tracker with this set's persistence settings.
    pub fn tracker(&self) -> PersistenceTracker {
        PersistenceTracker::new(self.tracker)
    }

    /// The rules `d` triggers, at most one per alert type, in rule order.
    /// `zones` are the kinds of the zones active at `d`'s point and time.
    /// `tracker` must be the same one for every detection of a stream: it
    /// records the detection's streak when a persistence rule could use it.
    /// Allocates only when something matches.
    pub fn evaluate<'r>(
        &'r self,
        d: &Detection,
        zones: &[ZoneKind],
        tracker: &mut PersistenceTracker,
    ) -> Vec<&'r Rule> {
        let mut out = Vec::new();
        let Some(entry) = self.by_label.get(d.label.as_str()) else {
            return out;
        };
        let streak =
            if entry.tracked { tracker.observe(&d.device, &d.label, d.at, d.point()) } else { Duration::zero() };
        let local = local_time(d.at);
        let mut raised = 0u32;
        for &i in &entry.rules {
            let Some(rule) = self.rules.get(i) else { continue };
            let bit = 1u32 << rule.alert.index();
            let matches = raised & bit == 0
                && d.score >= rule.min_score
                && rule.zone_kind.is_none_or(|k| zones.contains(&k))
                && rule.window.is_none_or(|w| w.contains(local))
                && rule.persistence.is_none_or(|p| streak >= Duration::minutes(i64::from(p.minutes)));
            if matches {
                raised |= bit;
                out.push(rule);
            }
        }
        out
    }
}

fn local_time(at: DateTime<Utc>) -> chrono::NaiveTime {
    at.with_timezone(&cst()).time()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Point;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_str(&format!("{s} +0800"), "%Y-%m-%d %H:%M:%S %z").unwrap().with_timezone(&Utc)
    }

    fn det(label: &str, at: &str, score: f64) -> Detection {
        Detection {
            id: "e".into(),
            device: "cam-1".into(),
            at: t(at),
            label: label.into(),
            score,
            lon: 118.36,
            lat: 31.35,
            evidence: vec![],
            attributes: None,
        }
    }

    fn ids<'a>(rules: &[&'a Rule]) -> Vec<&'a str> {
        rules.iter().map(|r| r.id.as_str()).collect()
    }

    const RULES: &str = r#"
        [[rule]]
        id = "night-fishing"
        labels = ["fishing", "fishing_net"]
        zone_kind = "fishing_ban_water"
        window = { from = "22:00", to = "06:00" }
        alert = "illegal_fishing"
        severity = "critical"
        auto_promote = true

        [[rule]]
        id = "fishing"
        labels = ["fishing"]
        zone_kind = "fishing_ban_water"
        min_score = 0.6
        alert = "illegal_fishing"
        severity = "high"

        [[rule]]
        id = "sand"
        labels = ["vessel"]
        zone_kind = "no_sand_mining"
        persistence = { minutes = 10 }
        alert = "illegal_sand_mining"
        severity = "high"

        [[rule]]
        id = "smoke"
        labels = ["smoke"]
        alert = "air_pollution"
        severity = "medium"
    "#;

    #[test]
    fn zone_kind_and_min_score() {
        let set = RuleSet::from_toml(RULES).unwrap();
        let mut tr = set.tracker();
        let ban = [ZoneKind::FishingBanWater];
        let noon = "2026-05-01 12:00:00";
        assert_eq!(ids(&set.evaluate(&det("fishing", noon, 0.9), &ban, &mut tr)), ["fishing"]);
        assert!(set.evaluate(&det("fishing", noon, 0.59), &ban, &mut tr).is_empty(), "below min score");
        assert!(set.evaluate(&det("fishing", noon, 0.9), &[ZoneKind::Shoreline], &mut tr).is_empty(), "wrong zone");
        assert!(set.evaluate(&det("fishing", noon, 0.9), &[], &mut tr).is_empty(), "no zone");
        assert!(set.evaluate(&det("unknown", noon, 0.9), &ban, &mut tr).is_empty(), "unknown label");
        // No zone kind = anywhere.
        assert_eq!(ids(&set.evaluate(&det("smoke", noon, 0.1), &[], &mut tr)), ["smoke"]);
        let r = set.get("fishing").unwrap();
        assert_eq!((r.alert, r.severity, r.auto_promote), (AlertType::IllegalFishing, Severity::High, false));
    }

    #[test]
    fn windows_wrap_midnight_in_cst_and_one_alert_per_type() {
        let set = RuleSet::from_toml(RULES).unwrap();
        let mut tr = set.tracker();
        let ban = [ZoneKind::FishingBanWater];
        let at = |time: &str, score| ids(&set.evaluate(&det("fishing", time, score), &ban, &mut set.tracker()));
        // The night rule is first and wins; the general one is not raised too.
        assert_eq!(at("2026-05-01 23:30:00", 0.9), ["night-fishing"]);
        assert_eq!(at("2026-05-02 05:59:59", 0.9), ["night-fishing"]);
        assert_eq!(at("2026-05-01 22:00:00", 0.9), ["night-fishing"], "start included");
        assert_eq!(at("2026-05-02 06:00:00", 0.9), ["fishing"], "end excluded");
        assert_eq!(at("2026-05-01 21:59:59", 0.9), ["fishing"]);
        // The night rule has no min score; the day rule does.
        assert_eq!(at("2026-05-02 01:00:00", 0.1), ["night-fishing"]);
        assert!(at("2026-05-02 12:00:00", 0.1).is_empty());
        // CST, not UTC: 15:00 UTC is 23:00 in Wuhu.
        let mut d = det("fishing", "2026-05-01 12:00:00", 0.9);
        d.at = DateTime::parse_from_rfc3339("2026-05-01T15:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(ids(&set.evaluate(&d, &ban, &mut tr)), ["night-fishing"]);
        // A label listed by the night rule only.
        assert_eq!(at("2026-05-01 12:00:00", 0.9).len(), 1);
        assert!(ids(&set.evaluate(&det("fishing_net", "2026-05-01 12:00:00", 0.9), &ban, &mut tr)).is_empty());
    }

    #[test]
    fn persistence_needs_the_same_device_long_enough() {
        let set = RuleSet::from_toml(RULES).unwrap();
        let mut tr = set.tracker();
        let reach = [ZoneKind::NoSandMining];
        let mut fired = vec![];
        for m in 0..=12 {
            let d = det("vessel", &format!("2026-05-01 10:{m:02}:00"), 0.8);
            fired.push(!set.evaluate(&d, &reach, &mut tr).is_empty());
        }
        assert_eq!(fired.iter().position(|f| *f), Some(10), "from the tenth minute on");
        assert!(fired[10..].iter().all(|f| *f));
        // Another device starts its own streak.
        let mut other = det("vessel", "2026-05-01 10:12:00", 0.8);
        other.device = "cam-2".into();
        assert!(set.evaluate(&other, &reach, &mut tr).is_empty());
        // A vessel that moves along the reach is not stationary.
        let mut tr = set.tracker();
        let mut moving = vec![];
        for m in 0..=12 {
            let mut d = det("vessel", &format!("2026-05-01 10:{m:02}:00"), 0.8);
            d.lon += f64::from(m) * 0.002; // about 190 m a minute
            moving.push(!set.evaluate(&d, &reach, &mut tr).is_empty());
        }
        assert!(moving.iter().all(|f| !f));
        // The streak counts outside the zone too: a vessel that sits on
        // the reach's edge is caught when it reports from inside.
        let mut tr = set.tracker();
        for m in 0..10 {
            let d = det("vessel", &format!("2026-05-01 10:{m:02}:00"), 0.8);
            assert!(set.evaluate(&d, &[], &mut tr).is_empty());
        }
        assert_eq!(set.evaluate(&det("vessel", "2026-05-01 10:10:00", 0.8), &reach, &mut tr).len(), 1);
    }

    #[test]
    fn untracked_labels_keep_no_streaks() {
        let set = RuleSet::from_toml(RULES).unwrap();
        let mut tr = set.tracker();
        set.evaluate(&det("smoke", "2026-05-01 10:00:00", 0.8), &[], &mut tr);
        set.evaluate(&det("fishing", "2026-05-01 10:00:00", 0.8), &[], &mut tr);
        assert!(tr.is_empty());
        set.evaluate(&det("vessel", "2026-05-01 10:00:00", 0.8), &[], &mut tr);
        assert_eq!(tr.len(), 1);
    }

    #[test]
    fn an_alert_carries_the_detection() {
        let set = RuleSet::from_toml(RULES).unwrap();
        let d = det("smoke", "2026-05-01 10:00:00", 0.8);
        let a = set.get("smoke").unwrap().alert_for(&d);
        assert_eq!((a.kind, a.severity, a.at, a.device), (AlertType::AirPollution, Severity::Medium, d.at, "cam-1"));
        assert_eq!(a.point, Point { lon: 118.36, lat: 31.35 });
    }

    fn load_err(text: &str) -> RuleError {
        RuleSet::from_toml(text).unwrap_err()
    }

    const ONE: &str = "[[rule]]\nid = \"r1\"\nlabels = [\"smoke\"]\nalert = \"air_pollution\"\nseverity = \"low\"\n";

    #[test]
    fn loader_errors() {
        assert!(RuleSet::from_toml(ONE).is_ok());
        assert!(RuleSet::from_toml("").unwrap().rules().is_empty());
        assert!(matches!(load_err("[[rule]\n"), RuleError::Parse(_)));
        assert!(matches!(load_err(&ONE.replace("air_pollution", "smog")), RuleError::Parse(_)));
        assert!(matches!(load_err(&ONE.replace("\"low\"", "\"urgent\"")), RuleError::Parse(_)));
        assert!(matches!(load_err(&format!("{ONE}zone = \"shoreline\"\n")), RuleError::Parse(m) if m.contains("zone")));
        assert!(matches!(load_err(&ONE.replace("labels = [\"smoke\"]\n", "")), RuleError::Parse(_)));
        assert!(matches!(load_err(&format!("{ONE}zone_kind = \"lake\"\n")), RuleError::Parse(_)));
        assert!(matches!(
            load_err(&format!("{ONE}window = {{ from = \"25:00\", to = \"06:00\" }}\n")),
            RuleError::Parse(_)
        ));
        assert_eq!(load_err(&format!("{ONE}{ONE}")), RuleError::DuplicateId("r1".into()));
        assert_eq!(load_err(&ONE.replace("r1", "r 1")), RuleError::BadId("r 1".into()));
        assert_eq!(load_err(&ONE.replace("[\"smoke\"]", "[]")), RuleError::NoLabels { rule: "r1".into() });
        assert_eq!(
            load_err(&ONE.replace("\"smoke\"", "\"Smoke\"")),
            RuleError::BadLabel { rule: "r1".into(), label: "Smoke".into() }
        );
        let many = format!("[{}]", vec!["\"a\""; 33].join(","));
        assert_eq!(load_err(&ONE.replace("[\"smoke\"]", &many)), RuleError::TooManyLabels { rule: "r1".into() });
        assert_eq!(load_err(&format!("{ONE}min_score = 1.5\n")), RuleError::BadMinScore { rule: "r1".into() });
        assert_eq!(load_err(&format!("{ONE}min_score = nan\n")), RuleError::BadMinScore { rule: "r1".into() });
        assert_eq!(
            load_err(&format!("{ONE}persistence = {{ minutes = 0 }}\n")),
            RuleError::BadPersistence { rule: "r1".into() }
        );
        assert_eq!(
            load_err(&format!("{ONE}window = {{ from = \"08:00\", to = \"08:00\" }}\n")),
            RuleError::EmptyWindow { rule: "r1".into() }
        );
        assert_eq!(load_err(&format!("[persistence]\nmax_gap_secs = 0\n{ONE}")), RuleError::BadTracker);
        for bad in [
            "illegal_fishin = { radius_m = 1.0, quiet_minutes = 1 }",
            "illegal_fishing = { radius_m = 0.0, quiet_minutes = 1 }",
            "illegal_fishing = { radius_m = 10.0 }",
            "max_open = 0",
        ] {
            assert!(matches!(load_err(&format!("[grouping]\n{bad}\n{ONE}")), RuleError::Parse(_)), "{bad}");
        }
        let set = RuleSet::from_toml(&format!(
            "[grouping]\nlate_secs = 60\nriver_traffic = {{ radius_m = 250.0, quiet_minutes = 5 }}\n{ONE}"
        ))
        .unwrap();
        assert_eq!(set.grouping().late_secs, 60);
        assert_eq!(set.grouping().params(AlertType::RiverTraffic).radius_m, 250.0);
        assert_eq!(
            set.grouping().params(AlertType::IllegalFishing),
            GroupingConfig::default().params(AlertType::IllegalFishing)
        );
        let too_many: String = (0..=MAX_RULES).map(|i| ONE.replace("r1", &format!("r{i}"))).collect();
        assert_eq!(load_err(&too_many), RuleError::TooManyRules);
    }

    #[test]
    fn the_shipped_wuhu_rules_load_and_cover_the_elements() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/rules.toml")).unwrap();
        let set = RuleSet::from_toml(&text).unwrap();
        assert_eq!(set.grouping(), &GroupingConfig::default(), "the file repeats the defaults");
        assert_eq!(set.promote_category(AlertType::IllegalFishing).map(CategoryCode::as_str), Some("E0701"));
        assert_eq!(set.promote_category(AlertType::DeviceFault), None, "faults are not cases");
        let codes = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/categories.csv")).unwrap();
        for t in AlertType::ALL {
            if let Some(c) = set.promote_category(t) {
                assert!(codes.lines().any(|l| l.starts_with(&format!("{c},"))), "{t} → {c} is not a shipped category");
            }
        }
        let mut tr = set.tracker();
        let raised: HashSet<AlertType> = set.rules().iter().map(|r| r.alert).collect();
        for t in AlertType::ALL {
            if t != AlertType::WaterPollution && t != AlertType::DeviceFault {
                assert!(raised.contains(&t), "no rule raises {t}");
            }
        }
        let one = |label: &str, at: &str, zones: &[ZoneKind], tr: &mut PersistenceTracker| {
            set.evaluate(&det(label, at, 0.9), zones, tr).iter().map(|r| r.alert).collect::<Vec<_>>()
        };
        let noon = "2026-05-01 12:00:00";
        assert_eq!(one("fishing", noon, &[ZoneKind::FishingBanWater], &mut tr), [AlertType::IllegalFishing]);
        assert!(one("fishing", noon, &[ZoneKind::Shoreline], &mut tr).is_empty());
        assert_eq!(one("dumping", noon, &[ZoneKind::Shoreline], &mut tr), [AlertType::IllegalDumping]);
        assert_eq!(one("smoke", noon, &[], &mut tr), [AlertType::AirPollution]);
        assert_eq!(one("ship_discharge", noon, &[], &mut tr), [AlertType::ShipPollution]);
        assert_eq!(one("bank_crack", noon, &[], &mut tr), [AlertType::BankDisplacement]);
        assert_eq!(one("vessel_collision", noon, &[], &mut tr), [AlertType::RiverTraffic]);
        assert_eq!(one("person", "2026-05-01 23:00:00", &[ZoneKind::RingCity], &mut tr), [AlertType::RingCheckpoint]);
        assert!(one("person", noon, &[ZoneKind::RingCity], &mut tr).is_empty(), "by day");
        for m in 0..10 {
            let at = format!("2026-05-01 10:{m:02}:00");
            assert!(one("vessel", &at, &[ZoneKind::NoSandMining], &mut tr).is_empty());
        }
        assert_eq!(
            one("vessel", "2026-05-01 10:10:00", &[ZoneKind::NoSandMining], &mut tr),
            [AlertType::IllegalSandMining]
        );
    }
}
