//! Surface-water quality under GB 3838-2002 ("地表水环境质量标准"): the limits
//! of the basic items (table 1), the HJ 212 factor codes stations report them
//! under, and the class (I–V, or 劣V, worse than V) of a value and of a sample.
//!
//! Limits are inclusive: a value equal to a class's limit belongs to that
//! class, and where several classes share a limit the value takes the best of
//! them (COD 15 mg/L is class I). Dissolved oxygen is the one item where
//! higher is better; pH has a single range (6–9) for every class, so a pH
//! inside it is class I and outside it 劣V.
//!
//! Total phosphorus has stricter limits for lakes and reservoirs
//! ([`WaterBody::LakeReservoir`]). Total nitrogen is assessed for lakes and
//! reservoirs only: [`Item::assessed_in`] says so, and [`sample_class`]
//! leaves it out for rivers, though [`classify`] still grades a TN value
//! against the lake limits when asked.
//!
//! Factor codes are HJ 212-2017's (annex B, water). The main items' codes are
//! uniform across station vendors; for a few metals vendors' tables disagree
//! (arsenic is `w20141` here, which some firmware sends as `w20119`), so a
//! station whose table differs needs its codes mapped before classification.

use crate::zone::WaterClass;

/// Where a sample was taken; total phosphorus and total nitrogen depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WaterBody {
    /// A river (the default, and the Yangtze).
    #[default]
    River,
    /// A lake or reservoir.
    LakeReservoir,
}

/// A basic item of GB 3838-2002 table 1 with a numeric limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Item {
    /// pH (dimensionless), 6–9 for every class.
    Ph,
    /// Dissolved oxygen, mg/L (at least).
    DissolvedOxygen,
    /// Permanganate index (CODMn), mg/L.
    PermanganateIndex,
    /// Chemical oxygen demand (COD), mg/L.
    Cod,
    /// Five-day biochemical oxygen demand (BOD5), mg/L.
    Bod5,
    /// Ammonia nitrogen (NH3-N), mg/L.
    AmmoniaNitrogen,
    /// Total phosphorus (as P), mg/L; lake/reservoir limits differ.
    TotalPhosphorus,
    /// Total nitrogen (lakes and reservoirs, as N), mg/L.
    TotalNitrogen,
    /// Copper, mg/L.
    Copper,
    /// Zinc, mg/L.
    Zinc,
    /// Fluoride (as F⁻), mg/L.
    Fluoride,
    /// Selenium, mg/L.
    Selenium,
    /// Arsenic, mg/L.
    Arsenic,
    /// Mercury, mg/L.
    Mercury,
    /// Cadmium, mg/L.
    Cadmium,
    /// Hexavalent chromium, mg/L.
    ChromiumVi,
    /// Lead, mg/L.
    Lead,
    /// Cyanide, mg/L.
    Cyanide,
    /// Volatile phenol, mg/L.
    VolatilePhenol,
    /// Petroleum, mg/L.
    Petroleum,
    /// Anionic surfactant, mg/L.
    AnionicSurfactant,
    /// Sulfide, mg/L.
    Sulfide,
    /// Fecal coliform, count/L.
    FecalColiform,
}

/// How an item's limits read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// The value must be at most the limit; limits for classes I–V.
    AtMost([f64; 5]),
    /// The value must be at least the limit; limits for classes I–V.
    AtLeast([f64; 5]),
    /// The value must lie in the inclusive range, for every class.
    Range(f64, f64),
}

/// The HJ 212-2017 factor code of each item.
const FACTORS: [(&str, Item); 23] = [
    ("w01001", Item::Ph),
    ("w01009", Item::DissolvedOxygen),
    ("w01019", Item::PermanganateIndex),
    ("w01018", Item::Cod),
    ("w01017", Item::Bod5),
    ("w21003", Item::AmmoniaNitrogen),
    ("w21011", Item::TotalPhosphorus),
    ("w21001", Item::TotalNitrogen),
    ("w20122", Item::Copper),
    ("w20123", Item::Zinc),
    ("w21017", Item::Fluoride),
    ("w20128", Item::Selenium),
    ("w20141", Item::Arsenic),
    ("w20111", Item::Mercury),
    ("w20115", Item::Cadmium),
    ("w20117", Item::ChromiumVi),
    ("w20120", Item::Lead),
    ("w21016", Item::Cyanide),
    ("w23002", Item::VolatilePhenol),
    ("w22001", Item::Petroleum),
    ("w19002", Item::AnionicSurfactant),
    ("w21019", Item::Sulfide),
    ("w02003", Item::FecalColiform),
];

impl Item {
    /// Every item.
    pub fn all() -> impl Iterator<Item = Item> {
        FACTORS.iter().map(|(_, i)| *i)
    }

    /// The item an HJ 212 factor code reports (case-insensitive), e.g.
    /// `w01018` → COD. Codes without a GB 3838 limit (temperature
    /// `w01010`, conductivity `w01014`, turbidity, …) give `None`.
    pub fn from_factor(code: &str) -> Option<Item> {
        FACTORS.iter().find(|(c, _)| c.eq_ignore_ascii_case(code)).map(|(_, i)| *i)
    }

    /// The item's HJ 212 factor code.
    pub fn factor(self) -> &'static str {
        FACTORS.iter().find(|(_, i)| *i == self).map(|(c, _)| *c).unwrap_or("")
    }

    /// The item's limits for classes I–V in this kind of water body.
    pub fn limit(self, body: WaterBody) -> Limit {
        use Limit::*;
        match self {
            Item::Ph => Range(6.0, 9.0),
            // Class I: 7.5 mg/L or 90 % saturation; the concentration is used.
            Item::DissolvedOxygen => AtLeast([7.5, 6.0, 5.0, 3.0, 2.0]),
            Item::PermanganateIndex => AtMost([2.0, 4.0, 6.0, 10.0, 15.0]),
            Item::Cod => AtMost([15.0, 15.0, 20.0, 30.0, 40.0]),
            Item::Bod5 => AtMost([3.0, 3.0, 4.0, 6.0, 10.0]),
            Item::AmmoniaNitrogen => AtMost([0.15, 0.5, 1.0, 1.5, 2.0]),
            Item::TotalPhosphorus => match body {
                WaterBody::River => AtMost([0.02, 0.1, 0.2, 0.3, 0.4]),
                WaterBody::LakeReservoir => AtMost([0.01, 0.025, 0.05, 0.1, 0.2]),
            },
            Item::TotalNitrogen => AtMost([0.2, 0.5, 1.0, 1.5, 2.0]),
            Item::Copper => AtMost([0.01, 1.0, 1.0, 1.0, 1.0]),
            Item::Zinc => AtMost([0.05, 1.0, 1.0, 2.0, 2.0]),
            Item::Fluoride => AtMost([1.0, 1.0, 1.0, 1.5, 1.5]),
            Item::Selenium => AtMost([0.01, 0.01, 0.01, 0.02, 0.02]),
            Item::Arsenic => AtMost([0.05, 0.05, 0.05, 0.1, 0.1]),
            Item::Mercury => AtMost([0.00005, 0.00005, 0.0001, 0.001, 0.001]),
            Item::Cadmium => AtMost([0.001, 0.005, 0.005, 0.005, 0.01]),
            Item::ChromiumVi => AtMost([0.01, 0.05, 0.05, 0.05, 0.1]),
            Item::Lead => AtMost([0.01, 0.01, 0.05, 0.05, 0.1]),
            Item::Cyanide => AtMost([0.005, 0.05, 0.2, 0.2, 0.2]),
            Item::VolatilePhenol => AtMost([0.002, 0.002, 0.005, 0.01, 0.1]),
            Item::Petroleum => AtMost([0.05, 0.05, 0.05, 0.5, 1.0]),
            Item::AnionicSurfactant => AtMost([0.2, 0.2, 0.2, 0.3, 0.3]),
            Item::Sulfide => AtMost([0.05, 0.1, 0.2, 0.5, 1.0]),
            Item::FecalColiform => AtMost([200.0, 2000.0, 10000.0, 20000.0, 40000.0]),
        }
    }

    /// Whether the standard assesses this item in this kind of water body
    /// (total nitrogen: lakes and reservoirs only).
    pub fn assessed_in(self, body: WaterBody) -> bool {
        self != Item::TotalNitrogen || body == WaterBody::LakeReservoir
    }

    /// The class of a value of this item; `None` for a value that is not a
    /// finite, non-negative number (or a pH outside 0–14).
    pub fn classify(self, value: f64, body: WaterBody) -> Option<WaterClass> {
        if !value.is_finite() || value < 0.0 || (self == Item::Ph && value > 14.0) {
            return None;
        }
        const CLASSES: [WaterClass; 5] =
            [WaterClass::I, WaterClass::II, WaterClass::III, WaterClass::IV, WaterClass::V];
        let class = match self.limit(body) {
            Limit::Range(low, high) => {
                if (low..=high).contains(&value) {
                    WaterClass::I
                } else {
                    WaterClass::WorseThanV
                }
            }
            Limit::AtMost(limits) => {
                CLASSES.into_iter().zip(limits).find(|(_, l)| value <= *l).map_or(WaterClass::WorseThanV, |(c, _)| c)
            }
            Limit::AtLeast(limits) => {
                CLASSES.into_iter().zip(limits).find(|(_, l)| value >= *l).map_or(WaterClass::WorseThanV, |(c, _)| c)
            }
        };
        Some(class)
    }
}

/// The class of a value reported under an HJ 212 factor code, in a river;
/// `None` if the factor has no GB 3838 limit or the value is not a measurement.
pub fn classify(factor: &str, value: f64) -> Option<WaterClass> {
    classify_in(factor, value, WaterBody::River)
}

/// [`classify`] for a given kind of water body.
pub fn classify_in(factor: &str, value: f64, body: WaterBody) -> Option<WaterClass> {
    Item::from_factor(factor)?.classify(value, body)
}

/// Whether water of `class` is worse than the `target` class of its section
/// (the opposite of [`WaterClass::meets`]).
pub fn exceeds(target: WaterClass, class: WaterClass) -> bool {
    !class.meets(target)
}

/// A sample's class: the worst class of its assessed items (`(factor, value)`
/// pairs; unknown factors, unassessed items and non-measurements are left
/// out). `None` if nothing could be classified.
pub fn sample_class<'a>(values: impl IntoIterator<Item = (&'a str, f64)>, body: WaterBody) -> Option<WaterClass> {
    values
        .into_iter()
        .filter_map(|(factor, value)| {
            let item = Item::from_factor(factor)?;
            if !item.assessed_in(body) {
                return None;
            }
            item.classify(value, body)
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use WaterClass::*;

    #[test]
    fn boundaries_are_inclusive() {
        // (factor, value, class) at and just past every boundary of the main items.
        let cases: &[(&str, f64, WaterClass)] = &[
            ("w01019", 2.0, I),
            ("w01019", 2.01, II),
            ("w01019", 4.0, II),
            ("w01019", 6.0, III),
            ("w01019", 10.0, IV),
            ("w01019", 15.0, V),
            ("w01019", 15.01, WorseThanV),
            ("w21003", 0.15, I),
            ("w21003", 0.151, II),
            ("w21003", 0.5, II),
            ("w21003", 1.0, III),
            ("w21003", 1.5, IV),
            ("w21003", 2.0, V),
            ("w21003", 2.001, WorseThanV),
            ("w01018", 15.0, I),
            ("w01018", 15.1, III),
            ("w01018", 20.0, III),
            ("w01018", 30.0, IV),
            ("w01018", 40.0, V),
            ("w01018", 40.1, WorseThanV),
            ("w01017", 3.0, I),
            ("w01017", 4.0, III),
            ("w01017", 6.0, IV),
            ("w01017", 10.0, V),
            ("w01017", 10.5, WorseThanV),
            ("w21011", 0.02, I),
            ("w21011", 0.1, II),
            ("w21011", 0.2, III),
            ("w21011", 0.3, IV),
            ("w21011", 0.4, V),
            ("w21011", 0.41, WorseThanV),
            ("w21001", 0.2, I),
            ("w21001", 2.0, V),
            ("w21001", 2.1, WorseThanV),
            ("w20122", 0.01, I),
            ("w20122", 1.0, II),
            ("w20122", 1.01, WorseThanV),
            ("w20111", 0.00005, I),
            ("w20111", 0.0001, III),
            ("w20111", 0.001, IV),
            ("w20115", 0.005, II),
            ("w20115", 0.01, V),
            ("w20120", 0.05, III),
            ("w20120", 0.1, V),
            ("w20117", 0.05, II),
            ("w20141", 0.1, IV),
        ];
        for &(factor, value, want) in cases {
            assert_eq!(classify(factor, value), Some(want), "{factor} = {value}");
        }
    }

    #[test]
    fn dissolved_oxygen_higher_is_better() {
        let cases = [(9.0, I), (7.5, I), (7.49, II), (6.0, II), (5.0, III), (3.0, IV), (2.0, V), (1.99, WorseThanV)];
        for (value, want) in cases {
            assert_eq!(classify("w01009", value), Some(want), "DO = {value}");
        }
    }

    #[test]
    fn ph_range() {
        assert_eq!(classify("w01001", 6.0), Some(I));
        assert_eq!(classify("w01001", 9.0), Some(I));
        assert_eq!(classify("w01001", 7.2), Some(I));
        assert_eq!(classify("w01001", 5.99), Some(WorseThanV));
        assert_eq!(classify("w01001", 9.01), Some(WorseThanV));
        assert_eq!(classify("w01001", 15.0), None);
    }

    #[test]
    fn lake_phosphorus() {
        let body = WaterBody::LakeReservoir;
        let cases = [(0.01, I), (0.025, II), (0.05, III), (0.1, IV), (0.2, V), (0.21, WorseThanV)];
        for (value, want) in cases {
            assert_eq!(classify_in("w21011", value, body), Some(want), "TP(lake) = {value}");
        }
        // The same value is better water in a river.
        assert_eq!(classify_in("w21011", 0.05, WaterBody::River), Some(II));
    }

    #[test]
    fn not_classified() {
        assert_eq!(classify("w01010", 20.0), None); // temperature
        assert_eq!(classify("nonsense", 1.0), None);
        assert_eq!(classify("w01018", f64::NAN), None);
        assert_eq!(classify("w01018", -1.0), None);
        assert_eq!(classify("W01018", 10.0), Some(I)); // case-insensitive
    }

    #[test]
    fn exceeds_target() {
        assert!(exceeds(II, III));
        assert!(exceeds(III, WorseThanV));
        assert!(!exceeds(III, III));
        assert!(!exceeds(III, I));
    }

    #[test]
    fn a_sample_is_its_worst_item() {
        let sample = [("w01009", 8.0), ("w01019", 3.5), ("w21003", 1.2), ("w21001", 5.0), ("w01010", 18.0)];
        // TN (worse than V) is not assessed in a river: NH3-N (IV) decides.
        assert_eq!(sample_class(sample, WaterBody::River), Some(IV));
        assert_eq!(sample_class(sample, WaterBody::LakeReservoir), Some(WorseThanV));
        assert_eq!(sample_class([("w01010", 18.0)], WaterBody::River), None);
    }

    #[test]
    fn factor_codes_round_trip() {
        for item in Item::all() {
            assert_eq!(Item::from_factor(item.factor()), Some(item));
        }
    }
}
