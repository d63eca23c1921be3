//! Personal data (个人信息): resident ID numbers, phone numbers, names —
//! validation, normalisation and masking. Encryption lives with the server;
//! this module decides what is valid and what a masked value looks like.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a personal-data value is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PersonalDataError {
    /// Not a mainland mobile or landline number.
    #[error("phone number must be an 11-digit mobile number starting with 1, or a landline of 7–12 digits")]
    Phone,
    /// Not 17 digits and a check character.
    #[error("resident ID number must be 17 digits followed by a digit or X")]
    IdShape,
    /// The check character does not match (GB 11643, ISO 7064 MOD 11-2).
    #[error("resident ID number's check character is wrong")]
    IdCheck,
    /// The birth date inside the ID is not a date.
    #[error("resident ID number contains an invalid birth date")]
    IdBirthDate,
    /// A name that is empty or too long.
    #[error("name must be 1–64 characters")]
    Name,
}

/// Longest name accepted, in characters once trimmed.
pub const MAX_NAME_CHARS: usize = 64;

/// Phone numbers [`normalize_phone`] accepts, in their plain forms: a
/// mobile number or a landline with its leading 0, optionally after `+86`.
/// (It also takes separators, `0086` and landlines without the 0.)
pub const PHONE_PATTERN: &str = r"^(?:\+86)?(?:1[0-9]{10}|0[1-9][0-9]{5,10})$";

/// The shape of a resident ID number: 6 digits, a birth date `YYYYMMDD`,
/// 3 digits and a check character. [`normalize_id_number`] also checks the
/// date exists and the check character is right.
pub const ID_NUMBER_PATTERN: &str = "^[0-9]{10}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]$";

/// A reporter's contact details, in the clear (only ever in memory).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contact {
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::PersonName>))]
    pub name: Option<String>,
    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::Phone>))]
    pub phone: Option<String>,
    /// 18-digit resident ID number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::ResidentId>))]
    pub id_number: Option<String>,
}

impl Contact {
    /// Validates and normalises every present field.
    pub fn normalized(&self) -> Result<Contact, PersonalDataError> {
        Ok(Contact {
            name: self.name.as_deref().map(normalize_name).transpose()?,
            phone: self.phone.as_deref().map(normalize_phone).transpose()?,
            id_number: self.id_number.as_deref().map(normalize_id_number).transpose()?,
        })
    }

    /// The masked form shown by default.
    pub fn masked(&self) -> Contact {
        Contact {
            name: self.name.as_deref().map(mask_name),
            phone: self.phone.as_deref().map(mask_phone),
            id_number: self.id_number.as_deref().map(mask_id_number),
        }
    }

    /// Whether no field is present.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.phone.is_none() && self.id_number.is_none()
    }
}

fn normalize_name(s: &str) -> Result<String, PersonalDataError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > MAX_NAME_CHARS {
        return Err(PersonalDataError::Name);
    }
    Ok(t.to_owned())
}

/// Strips spaces, dashes and a +86/0086 prefix; checks the shape.
pub fn normalize_phone(s: &str) -> Result<String, PersonalDataError> {
    let mut d: String = s.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
    for prefix in ["+86", "0086"] {
        if let Some(rest) = d.strip_prefix(prefix) {
            d = rest.to_owned();
        }
    }
    let digits = d.bytes().all(|b| b.is_ascii_digit());
    let mobile = d.len() == 11 && d.starts_with('1');
    let landline = (7..=12).contains(&d.len()) && !d.starts_with('1');
    if digits && (mobile || landline) { Ok(d) } else { Err(PersonalDataError::Phone) }
}

/// Validates a GB 11643 resident ID number (uppercasing a final x).
pub fn normalize_id_number(s: &str) -> Result<String, PersonalDataError> {
    let id = s.trim().to_ascii_uppercase();
    let b = id.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
        return Err(PersonalDataError::IdShape);
    }
    let birth = &id[6..14];
    if chrono::NaiveDate::parse_from_str(birth, "%Y%m%d").is_err() {
        return Err(PersonalDataError::IdBirthDate);
    }
    if b[17] != id_check_char(&b[..17]) {
        return Err(PersonalDataError::IdCheck);
    }
    Ok(id)
}

/// The ISO 7064 MOD 11-2 check character of the first 17 digits.
pub fn id_check_char(first17: &[u8]) -> u8 {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = first17.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    CHECK[(sum % 11) as usize]
}

/// `138****5678`: the first three and last four digits.
pub fn mask_phone(p: &str) -> String {
    let c: Vec<char> = p.chars().collect();
    if c.len() < 8 {
        return "*".repeat(c.len());
    }
    let keep_end = 4;
    let keep_start = 3;
    format!(
        "{}{}{}",
        c[..keep_start].iter().collect::<String>(),
        "*".repeat(c.len() - keep_start - keep_end),
        c[c.len() - keep_end..].iter().collect::<String>()
    )
}

/// `3402**********1234`: the first four and last four characters.
pub fn mask_id_number(id: &str) -> String {
    let c: Vec<char> = id.chars().collect();
    if c.len() < 9 {
        return "*".repeat(c.len());
    }
    format!(
        "{}{}{}",
        c[..4].iter().collect::<String>(),
        "*".repeat(c.len() - 8),
        c[c.len() - 4..].iter().collect::<String>()
    )
}

/// `张*` / `欧阳**`: the first character only.
pub fn mask_name(n: &str) -> String {
    let mut c = n.chars();
    match c.next() {
        Some(first) => format!("{first}{}", "*".repeat(c.count().max(1))),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn masks() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_id_number("340202199001011234"), "3402**********1234");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳修文"), "欧***");
    }

    #[test]
    fn resident_id_check_digit() {
        // 11010519491231002X is the standard's worked example.
        assert_eq!(normalize_id_number("11010519491231002x"), Ok("11010519491231002X".into()));
        assert_eq!(normalize_id_number("110105194912310021"), Err(PersonalDataError::IdCheck));
        assert_eq!(normalize_id_number("1101051949123100"), Err(PersonalDataError::IdShape));
        assert_eq!(normalize_id_number("110105194913310028"), Err(PersonalDataError::IdBirthDate));
    }

    #[test]
    fn phones() {
        assert_eq!(normalize_phone("+86 138-1234-5678"), Ok("13812345678".into()));
        let documented = regex::Regex::new(PHONE_PATTERN).unwrap();
        assert!(documented.is_match("13812345678") && documented.is_match("+8605533112345"));
        assert_eq!(normalize_phone("0553-3112345"), Ok("05533112345".into()));
        assert!(normalize_phone("12345").is_err());
        assert!(normalize_phone("1381234567a").is_err());
    }

    proptest! {
        /// Every phone number the pattern allows is accepted.
        #[test]
        fn the_phone_pattern_only_allows_valid_numbers(p in "(\\+86)?(1[0-9]{10}|0[1-9][0-9]{5,10})|[0-9+]{6,14}") {
            let re = regex::Regex::new(PHONE_PATTERN).unwrap();
            prop_assert!(!re.is_match(&p) || normalize_phone(&p).is_ok(), "{}", p);
        }

        /// Every valid ID number has the documented shape.
        #[test]
        fn valid_id_numbers_match_the_pattern(body in "[0-9]{10}[01][0-9][0-3][0-9]{4}") {
            let re = regex::Regex::new(ID_NUMBER_PATTERN).unwrap();
            for c in "0123456789X".chars() {
                let id = format!("{body}{c}");
                prop_assert!(normalize_id_number(&id).is_err() || re.is_match(&id), "{}", id);
            }
        }

        #[test]
        fn every_17_digit_body_has_exactly_one_valid_check_char(body in "[1-6][0-9]{5}19[5-9][0-9](0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])[0-9]{3}") {
            let ok: Vec<u8> = b"0123456789X".iter().copied()
                .filter(|&c| normalize_id_number(&format!("{body}{}", c as char)).is_ok())
                .collect();
            prop_assert_eq!(ok.len(), 1);
        }

        #[test]
        fn masking_never_reveals_the_middle(p in "1[3-9][0-9]{9}") {
            let m = mask_phone(&p);
            prop_assert_eq!(&m[..3], &p[..3]);
            prop_assert_eq!(&m[7..], &p[7..]);
            prop_assert_eq!(&m[3..7], "****");
        }
    }
}
