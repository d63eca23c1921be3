//! Alerts raised from a sensor's state rather than from a detection label:
//! a water sample against its section's target class, and a device that
//! has gone silent.

use chrono::{DateTime, Duration, Utc};

use super::alert::{AlertType, Severity};
use crate::zone::WaterClass;

/// How many classes apart two samples must be for a change to count as a
/// sudden jump (e.g. II → IV).
pub const JUMP_CLASSES: usize = 2;

/// The water-pollution alert a sample of class `sample` raises in a section
/// whose target is `target`, given the station's previous sample class.
///
/// - Worse than the target by one class: medium; by two: high; by three or
///   more: critical.
/// - A jump of [`JUMP_CLASSES`] or more classes worse than the previous
///   sample: at least medium, even while the target is still met, because
///   a sudden change is the first sign of a discharge.
/// - Otherwise `None`.
pub fn water_alert(
    sample: WaterClass,
    target: WaterClass,
    previous: Option<WaterClass>,
) -> Option<(AlertType, Severity)> {
    let over = rank(sample).saturating_sub(rank(target));
    let by_target = match over {
        0 => None,
        1 => Some(Severity::Medium),
        2 => Some(Severity::High),
        _ => Some(Severity::Critical),
    };
    let jumped = previous.is_some_and(|p| rank(sample).saturating_sub(rank(p)) >= JUMP_CLASSES);
    let by_jump = jumped.then_some(Severity::Medium);
    by_target.max(by_jump).map(|s| (AlertType::WaterPollution, s))
}

/// Whether a device last heard from at `last_seen` is silent at `now`:
/// more than `expected_interval` has passed (raise `device_fault`). A
/// clock that went backwards never makes a device silent.
pub fn silent(last_seen: DateTime<Utc>, expected_interval: Duration, now: DateTime<Utc>) -> bool {
    now - last_seen > expected_interval
}

/// 0 for class I up to 5 for 劣V.
fn rank(class: WaterClass) -> usize {
    WaterClass::ALL.iter().position(|c| *c == class).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use WaterClass::*;

    fn sev(sample: WaterClass, target: WaterClass, previous: Option<WaterClass>) -> Option<Severity> {
        water_alert(sample, target, previous).map(|(t, s)| {
            assert_eq!(t, AlertType::WaterPollution);
            s
        })
    }

    #[test]
    fn worse_than_target_by_classes() {
        assert_eq!(sev(III, III, None), None);
        assert_eq!(sev(I, III, None), None);
        assert_eq!(sev(IV, III, None), Some(Severity::Medium));
        assert_eq!(sev(V, III, None), Some(Severity::High));
        assert_eq!(sev(WorseThanV, III, None), Some(Severity::Critical));
        assert_eq!(sev(WorseThanV, I, Some(WorseThanV)), Some(Severity::Critical));
    }

    #[test]
    fn a_sudden_jump_alerts_even_within_target() {
        assert_eq!(sev(III, III, Some(I)), Some(Severity::Medium));
        assert_eq!(sev(III, III, Some(II)), None, "one class is not a jump");
        assert_eq!(sev(II, III, Some(IV)), None, "getting better");
        // Over target and jumped: the higher of the two.
        assert_eq!(sev(V, III, Some(II)), Some(Severity::High));
        assert_eq!(sev(IV, III, Some(II)), Some(Severity::Medium));
    }

    #[test]
    fn silence() {
        let t = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        let five = Duration::minutes(5);
        assert!(!silent(t, five, t + five));
        assert!(silent(t, five, t + five + Duration::seconds(1)));
        assert!(!silent(t, five, t - Duration::hours(1)));
    }
}
