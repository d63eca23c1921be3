//! The two-level case taxonomy (事件/部件分类) and each class's time limits.
//!
//! A category code is a kind letter and four digits: `E` for events (事件),
//! `C` for components (部件), then a 2-digit major and a 2-digit minor class,
//! e.g. `E0101`. The standard event and component taxonomies reuse the same
//! major numbers, so the letter keeps the two apart.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Events (事件) or components (部件).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CategoryKind {
    /// A matter or behaviour: dumping, occupation of the road, a dispute.
    Event,
    /// A piece of public infrastructure that is broken, lost or misused.
    Component,
}

impl CategoryKind {
    fn letter(self) -> char {
        match self {
            CategoryKind::Event => 'E',
            CategoryKind::Component => 'C',
        }
    }
}

/// Why a category code or definition is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CategoryError {
    /// Not `E`/`C` and four digits with non-zero major and minor.
    #[error("category code {0:?} must be E or C followed by a 2-digit major and a 2-digit minor class, e.g. E0101")]
    BadCode(String),
    /// A time limit of zero or over [`MAX_LIMIT_MINUTES`], or a blank name or department type.
    #[error("category {code}: {reason}")]
    BadLimits {
        /// The category.
        code: String,
        /// What is wrong.
        reason: String,
    },
}

/// A validated category code such as `E0101`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CategoryCode(String);

impl CategoryCode {
    /// Exactly the strings [`CategoryCode::parse`] accepts.
    pub const PATTERN: &str = "^[EC](?:0[1-9]|[1-9][0-9])(?:0[1-9]|[1-9][0-9])$";

    /// Parses a code.
    pub fn parse(s: &str) -> Result<CategoryCode, CategoryError> {
        let b = s.as_bytes();
        let ok = b.len() == 5
            && matches!(b[0], b'E' | b'C')
            && b[1..].iter().all(u8::is_ascii_digit)
            && &s[1..3] != "00"
            && &s[3..5] != "00";
        if ok { Ok(CategoryCode(s.to_owned())) } else { Err(CategoryError::BadCode(s.to_owned())) }
    }

    /// Builds a code from its parts.
    pub fn new(kind: CategoryKind, major: u8, minor: u8) -> Result<CategoryCode, CategoryError> {
        CategoryCode::parse(&format!("{}{:02}{:02}", kind.letter(), major, minor))
    }

    /// The code as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Event or component.
    pub fn kind(&self) -> CategoryKind {
        if self.0.starts_with('E') { CategoryKind::Event } else { CategoryKind::Component }
    }

    /// The major class part, e.g. `E01`.
    pub fn major(&self) -> &str {
        &self.0[..3]
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for CategoryCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::schema::matching(CategoryCode::PATTERN, "E0101")
            .description(Some(
                "Category code: `E` (event) or `C` (component), a 2-digit major and a 2-digit minor class, \
                 neither `00`.",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for CategoryCode {
    fn name() -> std::borrow::Cow<'static, str> {
        "CategoryCode".into()
    }
}

impl TryFrom<String> for CategoryCode {
    type Error = CategoryError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        CategoryCode::parse(&s)
    }
}

impl From<CategoryCode> for String {
    fn from(c: CategoryCode) -> String {
        c.0
    }
}

impl fmt::Display for CategoryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest time limit a category may set, in minutes: a year of natural
/// time, so that every deadline computed from one stays a near date.
pub const MAX_LIMIT_MINUTES: u32 = 366 * 24 * 60;

/// A time limit in minutes: working minutes for normal cases, natural
/// minutes for urgent ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeLimit {
    /// Working minutes on the calendar for a normal case.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub normal_minutes: u32,
    /// Natural minutes for an urgent case.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub urgent_minutes: u32,
}

/// The time limits of each node of the loop for one category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeLimits {
    /// From report to registration (立案).
    pub register: TimeLimit,
    /// From registration to dispatch (派遣).
    pub dispatch: TimeLimit,
    /// From dispatch to the department's acknowledgement (签收).
    pub acknowledge: TimeLimit,
    /// From dispatch to the report back (处置反馈).
    pub handle: TimeLimit,
}

/// A minor class with its limits and default responsible department type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Category {
    /// The code, e.g. `E0101`.
    pub code: CategoryCode,
    /// Name of the major class, e.g. 市容环境.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    pub major_name: String,
    /// Name of the minor class, e.g. 暴露垃圾.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    pub name: String,
    /// The department type that handles it by default, e.g. `urban_management`.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    pub department_type: String,
    /// Time limits per node.
    pub limits: TimeLimits,
    /// Whether new cases may use it.
    pub active: bool,
}

impl Category {
    /// Checks the limits are usable: all positive and at most [`MAX_LIMIT_MINUTES`].
    pub fn validate(&self) -> Result<(), CategoryError> {
        let l = &self.limits;
        for (node, limit) in
            [("register", l.register), ("dispatch", l.dispatch), ("acknowledge", l.acknowledge), ("handle", l.handle)]
        {
            if limit.normal_minutes == 0 || limit.urgent_minutes == 0 {
                return Err(self.bad(format!("the {node} limit must be positive")));
            }
            if limit.normal_minutes > MAX_LIMIT_MINUTES || limit.urgent_minutes > MAX_LIMIT_MINUTES {
                return Err(self.bad(format!("the {node} limit must be at most {MAX_LIMIT_MINUTES} minutes (a year)")));
            }
        }
        if self.name.trim().is_empty() || self.major_name.trim().is_empty() {
            return Err(self.bad("names must not be empty".into()));
        }
        if self.department_type.trim().is_empty() {
            return Err(self.bad("a default department type is required".into()));
        }
        Ok(())
    }

    fn bad(&self, reason: String) -> CategoryError {
        CategoryError::BadLimits { code: self.code.to_string(), reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let c = CategoryCode::parse("E0101").unwrap();
        assert_eq!(c.kind(), CategoryKind::Event);
        assert_eq!(c.major(), "E01");
        assert_eq!(CategoryCode::new(CategoryKind::Component, 2, 13).unwrap().as_str(), "C0213");
        for bad in ["", "0101", "X0101", "E010", "E0001", "E0100", "E01011", "e0101"] {
            assert!(CategoryCode::parse(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        /// The documented pattern and the parser agree.
        #[test]
        fn the_pattern_accepts_exactly_the_valid_codes(s in "[ECXe][0-9]{3,5}|[EC]0[0-9]{3}|[EC][0-9]{2}0[0-9]") {
            let re = regex::Regex::new(CategoryCode::PATTERN).unwrap();
            proptest::prop_assert_eq!(re.is_match(&s), CategoryCode::parse(&s).is_ok(), "{:?}", s);
        }
    }

    #[test]
    fn limits_must_be_positive() {
        let t = TimeLimit { normal_minutes: 60, urgent_minutes: 30 };
        let mut c = Category {
            code: CategoryCode::parse("E0101").unwrap(),
            major_name: "市容环境".into(),
            name: "暴露垃圾".into(),
            department_type: "urban_management".into(),
            limits: TimeLimits { register: t, dispatch: t, acknowledge: t, handle: t },
            active: true,
        };
        assert!(c.validate().is_ok());
        c.limits.handle.urgent_minutes = 0;
        assert!(c.validate().is_err());
        c.limits.handle.urgent_minutes = MAX_LIMIT_MINUTES;
        c.limits.handle.normal_minutes = MAX_LIMIT_MINUTES;
        assert!(c.validate().is_ok());
        c.limits.handle.normal_minutes = u32::MAX;
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("handle limit must be at most"), "{err}");
    }
}
