//! The division tree (行政区划 and 网格) and its codes.
//!
//! Codes are hierarchical strings of digits, so a unit's code always starts
//! with its parent's code and a subtree is a prefix range:
//!
//! | level | digits | rule |
//! |---|---|---|
//! | city | 6 | GB/T 2260: province 2 + prefecture 2 + `00` |
//! | district/county | 6 | GB/T 2260: city's first 4 + serial `01`–`99` |
//! | township/street | 9 | GB/T 10114: district + `001`–`599` (001–099 street office, 100–199 town, 200–399 township, 400–599 similar units) |
//! | village/community | 12 | statistical code: township + `001`–`599` (001–199 residents' committee, 200–399 villagers' committee, 400–599 similar) |
//! | unit grid | 15 | community + `001`–`999` |
//! | micro-grid | 18 | grid + `001`–`999` (a building or villager group) |

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A level of the territory tree, from the city down to the micro-grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Prefecture-level city (地级市).
    City,
    /// District, county or county-level city (区/县/县级市), and development zones.
    District,
    /// Township, town or street office (乡/镇/街道).
    Township,
    /// Village or residents' community (村/社区).
    Community,
    /// Unit grid (单元网格), 15-digit code.
    Grid,
    /// Micro-grid (微网格): a building or villager group, 18-digit code.
    MicroGrid,
}

impl Level {
    /// All levels, top down.
    pub const ALL: [Level; 6] =
        [Level::City, Level::District, Level::Township, Level::Community, Level::Grid, Level::MicroGrid];

    /// The stable snake_case name used in APIs and files.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::City => "city",
            Level::District => "district",
            Level::Township => "township",
            Level::Community => "community",
            Level::Grid => "grid",
            Level::MicroGrid => "micro_grid",
        }
    }

    /// Parses the snake_case name (`micro-grid` and `microgrid` are accepted too).
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "city" => Level::City,
            "district" | "county" => Level::District,
            "township" | "street" | "town" => Level::Township,
            "community" | "village" => Level::Community,
            "grid" => Level::Grid,
            "micro_grid" | "micro-grid" | "microgrid" => Level::MicroGrid,
            _ => return None,
        })
    }

    /// Number of digits in a code of this level.
    pub fn code_len(self) -> usize {
        match self {
            Level::City | Level::District => 6,
            Level::Township => 9,
            Level::Community => 12,
            Level::Grid => 15,
            Level::MicroGrid => 18,
        }
    }

    /// The level directly below, if any.
    pub fn child(self) -> Option<Level> {
        match self {
            Level::City => Some(Level::District),
            Level::District => Some(Level::Township),
            Level::Township => Some(Level::Community),
            Level::Community => Some(Level::Grid),
            Level::Grid => Some(Level::MicroGrid),
            Level::MicroGrid => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a valid territory code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodeError {
    /// Not made of ASCII digits only.
    #[error("territory code {0:?} must contain only digits")]
    NotDigits(String),
    /// A length that matches no level.
    #[error("territory code {0:?} has {1} digits; expected 6, 9, 12, 15 or 18")]
    BadLength(String, usize),
    /// A six-digit code naming a province (`xx0000`), which CityGrid does not model.
    #[error("territory code {0:?} is a province code; the tree starts at a prefecture-level city")]
    Province(String),
    /// The serial part of the code is out of its range.
    #[error("territory code {code:?}: serial {serial:?} of a {level} code must be in {range}")]
    BadSerial {
        /// The code.
        code: String,
        /// The level the length implies.
        level: Level,
        /// The offending serial digits.
        serial: String,
        /// The allowed range, for the message.
        range: &'static str,
    },
    /// The code does not start with its parent's code.
    #[error("territory code {child:?} does not belong under {parent:?}: a code's prefix must be its parent's code")]
    NotUnderParent {
        /// The child code.
        child: String,
        /// The parent it was declared under.
        parent: String,
    },
}

/// A validated territory code; its level follows from its shape.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UnitCode(String);

impl UnitCode {
    /// Exactly the strings [`UnitCode::parse`] accepts, by length: a city
    /// or district (6 digits, not `xx0000`), then township and community
    /// (serial 001–599), grid and micro-grid (serial 001–999).
    pub const PATTERN: &str = concat!(
        "^(?:[0-9]{2}(?:(?:0[1-9]|[1-9][0-9])[0-9]{2}|[0-9]{2}(?:0[1-9]|[1-9][0-9]))",
        "|[0-9]{6}(?:00[1-9]|0[1-9][0-9]|[1-5][0-9]{2})",
        "|[0-9]{9}(?:00[1-9]|0[1-9][0-9]|[1-5][0-9]{2})",
        "|[0-9]{12}(?:00[1-9]|0[1-9][0-9]|[1-9][0-9]{2})",
        "|[0-9]{15}(?:00[1-9]|0[1-9][0-9]|[1-9][0-9]{2}))$"
    );

    /// Parses and validates a code.
    pub fn parse(s: &str) -> Result<UnitCode, CodeError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeError::NotDigits(s.to_owned()));
        }
        let level = match s.len() {
            6 if s.ends_with("00") => {
                if &s[2..4] == "00" {
                    return Err(CodeError::Province(s.to_owned()));
                }
                Level::City
            }
            6 => Level::District,
            9 => Level::Township,
            12 => Level::Community,
            15 => Level::Grid,
            18 => Level::MicroGrid,
            n => return Err(CodeError::BadLength(s.to_owned(), n)),
        };
        let (serial, lo, hi, range) = match level {
            Level::City => (&s[2..4], 1, 99, "01-99"),
            Level::District => (&s[4..6], 1, 99, "01-99"),
            Level::Township => (&s[6..9], 1, 599, "001-599"),
            Level::Community => (&s[9..12], 1, 599, "001-599"),
            Level::Grid => (&s[12..15], 1, 999, "001-999"),
            Level::MicroGrid => (&s[15..18], 1, 999, "001-999"),
        };
        let n: u32 = serial.parse().unwrap_or(0);
        if !(lo..=hi).contains(&n) {
            return Err(CodeError::BadSerial { code: s.to_owned(), level, serial: serial.to_owned(), range });
        }
        Ok(UnitCode(s.to_owned()))
    }

    /// The code as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The level this code denotes.
    pub fn level(&self) -> Level {
        match self.0.len() {
            6 if self.0.ends_with("00") => Level::City,
            6 => Level::District,
            9 => Level::Township,
            12 => Level::Community,
            15 => Level::Grid,
            _ => Level::MicroGrid,
        }
    }

    /// The parent's code as its prefix implies (`None` for a city).
    pub fn parent(&self) -> Option<UnitCode> {
        let s = &self.0;
        let p = match self.level() {
            Level::City => return None,
            Level::District => format!("{}00", &s[..4]),
            Level::Township => s[..6].to_owned(),
            Level::Community => s[..9].to_owned(),
            Level::Grid => s[..12].to_owned(),
            Level::MicroGrid => s[..15].to_owned(),
        };
        Some(UnitCode(p))
    }

    /// The chain of ancestors' codes from the city down to this code, inclusive.
    pub fn chain(&self) -> Vec<UnitCode> {
        let mut out = vec![self.clone()];
        let mut cur = self.clone();
        while let Some(p) = cur.parent() {
            out.push(p.clone());
            cur = p;
        }
        out.reverse();
        out
    }

    /// The prefix every code in this unit's subtree starts with. A city's
    /// subtree is everything below its 4-digit prefecture prefix.
    pub fn subtree_prefix(&self) -> &str {
        match self.level() {
            Level::City => &self.0[..4],
            _ => &self.0,
        }
    }

    /// Whether `other` is this unit or lies below it.
    pub fn contains(&self, other: &UnitCode) -> bool {
        other.0.starts_with(self.subtree_prefix())
    }

    /// Checks that this code may sit directly under `parent`.
    pub fn check_parent(&self, parent: &UnitCode) -> Result<(), CodeError> {
        if self.parent().as_ref() == Some(parent) {
            Ok(())
        } else {
            Err(CodeError::NotUnderParent { child: self.0.clone(), parent: parent.0.clone() })
        }
    }

    /// The code of the `serial`-th child of this unit (grid and micro-grid
    /// serials are three digits). Returns `None` past the last serial.
    pub fn child_code(&self, serial: u32) -> Option<UnitCode> {
        let level = self.level().child()?;
        let s = match level {
            Level::District => format!("{}{:02}", &self.0[..4], serial),
            _ => format!("{}{:03}", self.0, serial),
        };
        UnitCode::parse(&s).ok()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for UnitCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let lengths = || Level::ALL.iter().map(|l| l.code_len());
        // The city first: a unit every example elsewhere (a zone's area, a user's binding) lies in.
        crate::schema::matching(UnitCode::PATTERN, "340200")
            .examples(["340200", "340202001"])
            .min_length(lengths().min())
            .max_length(lengths().max())
            .description(Some(
                "Territory code: 6 digits for the city (`xxxx00`) or a district, 9 for a township, \
                 12 for a community, 15 for a grid, 18 for a micro-grid; each code starts with its parent's.",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for UnitCode {
    fn name() -> std::borrow::Cow<'static, str> {
        "UnitCode".into()
    }
}

impl TryFrom<String> for UnitCode {
    type Error = CodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        UnitCode::parse(&s)
    }
}

impl From<UnitCode> for String {
    fn from(c: UnitCode) -> String {
        c.0
    }
}

impl fmt::Display for UnitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A unit of the territory tree (geometry is kept by the geo layer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unit {
    /// The unit's code.
    pub code: UnitCode,
    /// Official name.
    pub name: String,
    /// Level in the tree.
    pub level: Level,
    /// Parent unit's code (`None` for the city).
    pub parent: Option<UnitCode>,
    /// First day the unit is valid.
    pub valid_from: NaiveDate,
    /// Last day the unit is valid, if it has ended.
    pub valid_to: Option<NaiveDate>,
    /// Whether the boundary is generated rather than surveyed.
    pub synthetic: bool,
}

impl Unit {
    /// A unit whose level and parent are the ones its code implies, valid
    /// from `valid_from` with no end, surveyed (not synthetic).
    pub fn new(code: UnitCode, name: impl Into<String>, valid_from: NaiveDate) -> Unit {
        Unit {
            level: code.level(),
            parent: code.parent(),
            code,
            name: name.into(),
            valid_from,
            valid_to: None,
            synthetic: false,
        }
    }

    /// Whether the unit is valid on `day`.
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        self.valid_from <= day && self.valid_to.is_none_or(|end| day <= end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> UnitCode {
        UnitCode::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn levels_follow_from_shape() {
        assert_eq!(code("340200").level(), Level::City);
        assert_eq!(code("340202").level(), Level::District);
        assert_eq!(code("340202001").level(), Level::Township);
        assert_eq!(code("340202001001").level(), Level::Community);
        assert_eq!(code("340202001001001").level(), Level::Grid);
        assert_eq!(code("340202001001001001").level(), Level::MicroGrid);
    }

    #[test]
    fn parents_are_prefixes() {
        assert_eq!(code("340202").parent(), Some(code("340200")));
        assert_eq!(code("340202001").parent(), Some(code("340202")));
        assert_eq!(code("340202001001001").parent(), Some(code("340202001001")));
        assert_eq!(code("340200").parent(), None);
        let chain: Vec<String> = code("340202001001001").chain().into_iter().map(String::from).collect();
        assert_eq!(chain, ["340200", "340202", "340202001", "340202001001", "340202001001001"]);
    }

    #[test]
    fn malformed_codes_are_refused_with_a_reason() {
        assert!(matches!(UnitCode::parse("34020a"), Err(CodeError::NotDigits(_))));
        assert!(matches!(UnitCode::parse(""), Err(CodeError::NotDigits(_))));
        assert!(matches!(UnitCode::parse("3402021"), Err(CodeError::BadLength(_, 7))));
        assert!(matches!(UnitCode::parse("340000"), Err(CodeError::Province(_))));
        assert!(matches!(UnitCode::parse("340202000"), Err(CodeError::BadSerial { .. })));
        assert!(matches!(UnitCode::parse("340202600"), Err(CodeError::BadSerial { .. })));
        assert!(matches!(UnitCode::parse("340202001001000"), Err(CodeError::BadSerial { .. })));
    }

    #[test]
    fn check_parent_requires_the_prefix() {
        assert!(code("340202001").check_parent(&code("340202")).is_ok());
        let err = code("340202001").check_parent(&code("340207"));
        assert!(matches!(err, Err(CodeError::NotUnderParent { .. })));
        assert!(code("340202").check_parent(&code("340200")).is_ok());
        assert!(code("340202").check_parent(&code("320200")).is_err());
    }

    #[test]
    fn subtree_containment() {
        assert!(code("340200").contains(&code("340281001001")));
        assert!(code("340202").contains(&code("340202001")));
        assert!(!code("340202").contains(&code("340207001")));
        assert!(code("340202001").contains(&code("340202001")));
    }

    #[test]
    fn child_codes() {
        assert_eq!(code("340202001001").child_code(7), Some(code("340202001001007")));
        assert_eq!(code("340202001001").child_code(1000), None);
        assert_eq!(code("340200").child_code(2), Some(code("340202")));
    }

    proptest::proptest! {
        /// The documented pattern and the parser agree, serial edges included.
        #[test]
        fn the_pattern_accepts_exactly_the_valid_codes(
            s in "[0-9]{1,19}|[0-9]{2}00[0-9]{2}|[0-9]{2}[0-9]{2}00|([0-9]{3}){2,5}[0169]0[0-9]|[0-9 a]{6,9}"
        ) {
            let re = regex::Regex::new(UnitCode::PATTERN).unwrap();
            proptest::prop_assert_eq!(re.is_match(&s), UnitCode::parse(&s).is_ok(), "{:?}", s);
        }
    }

    #[test]
    fn serde_validates() {
        let ok: Result<UnitCode, _> = serde_json::from_str("\"340202\"");
        assert!(ok.is_ok());
        let bad: Result<UnitCode, _> = serde_json::from_str("\"34x202\"");
        assert!(bad.is_err());
    }
}
