//! OpenAPI schemas for values that are plain strings or numbers in Rust but
//! are checked before use. Each is a named schema built from the constants
//! its validation uses; fields refer to it with `#[schema(value_type = …)]`.
//!
//! Patterns are written in the common subset of ECMA-262 (what JSON Schema
//! prescribes) and Rust's `regex`: no look-around, `[0-9]` rather than `\d`
//! (which is Unicode-wide in some engines), anchored where they must match
//! the whole value.

use utoipa::PartialSchema;
use utoipa::openapi::schema::{ArrayBuilder, ArrayItems, ObjectBuilder, SchemaType, Type};

use crate::case::{MAX_EVIDENCE, MAX_TEXT_CHARS};
use crate::department::Department;
use crate::geometry::{BBox, MAX_LAT, MAX_LON, MIN_LAT, MIN_LON};
use crate::personal::{ID_NUMBER_PATTERN, MAX_NAME_CHARS, PHONE_PATTERN};
use crate::zone::{MAX_ID_LEN, Zone};

/// Matches text holding a character that is not whitespace: what
/// `str::trim().is_empty()` refuses. U+0085 is whitespace to Rust but not
/// to ECMA-262's `\s`, hence listed.
pub const NOT_BLANK: &str = r"[^\s\x85]";

/// A SHA-256 content hash as the server writes it: 64 lowercase hex digits.
pub const CONTENT_HASH_PATTERN: &str = "^[0-9a-f]{64}$";

/// Declares a named schema: a unit struct whose only use is
/// `#[schema(value_type = Name)]` or `("param" = Name, …)`.
#[macro_export]
macro_rules! named_schema {
    ($(#[$meta:meta])* $name:ident => $schema:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl ::utoipa::PartialSchema for $name {
            fn schema() -> ::utoipa::openapi::RefOr<::utoipa::openapi::schema::Schema> {
                ($schema).into()
            }
        }

        impl ::utoipa::ToSchema for $name {
            fn name() -> ::std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
        }
    };
}

/// A string schema.
pub fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::new(Type::String))
}

/// A string matching `pattern`, with an example.
pub fn matching(pattern: &str, example: &str) -> ObjectBuilder {
    string().pattern(Some(pattern)).examples([example])
}

/// Text that must not be blank.
pub fn not_blank(example: &str) -> ObjectBuilder {
    matching(NOT_BLANK, example).min_length(Some(1))
}

fn degrees(min: f64, max: f64, example: f64, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Number))
        .minimum(Some(min))
        .maximum(Some(max))
        .examples([example])
        .description(Some(description))
}

/// A longitude, as [`crate::Point::new`] accepts it.
pub fn longitude() -> ObjectBuilder {
    degrees(MIN_LON, MAX_LON, 118.38, "Longitude in degrees east.")
}

/// A latitude, as [`crate::Point::new`] accepts it.
pub fn latitude() -> ObjectBuilder {
    degrees(MIN_LAT, MAX_LAT, 31.18, "Latitude in degrees north.")
}

named_schema!(
    /// A longitude in degrees.
    Longitude => longitude()
);

named_schema!(
    /// A latitude in degrees.
    Latitude => latitude()
);

named_schema!(
    /// A point as a `[lon, lat]` pair.
    LonLat => ArrayBuilder::new()
        .prefix_items([longitude().build(), latitude().build()])
        .items(ArrayItems::False)
        .min_items(Some(2))
        .max_items(Some(2))
        .description(Some("`[lon, lat]` in degrees."))
        .examples([serde_json::json!([118.38, 31.18])])
);

named_schema!(
    /// A bounding box as query text, `min_lon,min_lat,max_lon,max_lat`.
    BoundingBox => matching(BBox::PATTERN, "118.30,31.10,118.42,31.20").description(Some(
        "`min_lon,min_lat,max_lon,max_lat` in degrees, west and south edges first (not across the antimeridian).",
    ))
);

named_schema!(
    /// Optional free text: a note, a comment, an address.
    Text => string()
        .max_length(Some(MAX_TEXT_CHARS))
        .description(Some(format!("Free text, at most {MAX_TEXT_CHARS} characters.")))
);

named_schema!(
    /// Text that must be given: a description, a reason.
    RequiredText => not_blank("绿化带内垃圾堆放")
        .max_length(Some(MAX_TEXT_CHARS))
        .description(Some(format!("Text that is not blank, at most {MAX_TEXT_CHARS} characters.")))
);

named_schema!(
    /// A name that must not be blank.
    Name => not_blank("镜湖区").description(Some("Not blank."))
);

named_schema!(
    /// An uploaded attachment's content hash.
    ContentHash => matching(CONTENT_HASH_PATTERN, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        .min_length(Some(64))
        .max_length(Some(64))
        .description(Some("SHA-256 of an uploaded attachment, as `POST /api/v1/attachments` returned it."))
);

fn evidence(min: usize) -> ArrayBuilder {
    ArrayBuilder::new().items(ContentHash::schema()).min_items(Some(min)).max_items(Some(MAX_EVIDENCE))
}

named_schema!(
    /// Attachments cited as evidence, possibly none.
    Evidence => evidence(0).description(Some(format!("Uploaded attachments' hashes, at most {MAX_EVIDENCE}.")))
);

named_schema!(
    /// Attachments cited as evidence, at least one.
    RequiredEvidence => evidence(1)
        .description(Some(format!("Uploaded attachments' hashes, at least one and at most {MAX_EVIDENCE}.")))
);

named_schema!(
    /// A department's code.
    DepartmentCode => not_blank("D340202-UM")
        .max_length(Some(Department::MAX_CODE_CHARS))
        .description(Some(format!(
            "A department's code, 1–{} characters, not blank; where one is cited it must exist.",
            Department::MAX_CODE_CHARS
        )))
);

named_schema!(
    /// A zone's id.
    ZoneId => matching(Zone::ID_PATTERN, "yangtze-fishing-ban")
        .min_length(Some(1))
        .max_length(Some(MAX_ID_LEN))
        .description(Some(format!("1–{MAX_ID_LEN} characters of `A–Z a–z 0–9 . _ -`.")))
);

named_schema!(
    /// A person's name in a contact.
    PersonName => not_blank("张三")
        .max_length(Some(MAX_NAME_CHARS))
        .description(Some(format!("1–{MAX_NAME_CHARS} characters once trimmed.")))
);

named_schema!(
    /// A mainland China phone number.
    Phone => matching(PHONE_PATTERN, "13812345678").description(Some(
        "An 11-digit mobile number starting with 1, or a landline with its area code (0…, 7–12 digits), \
         optionally after +86. The server also takes spaces, dashes and brackets, and landlines without \
         the leading 0.",
    ))
);

named_schema!(
    /// A resident ID number.
    ResidentId => matching(ID_NUMBER_PATTERN, "11010519491231002X").description(Some(
        "An 18-character resident ID number (GB 11643): 17 digits with a valid birth date, then the check \
         character (a digit or X) computed from them with ISO 7064 MOD 11-2, which the pattern cannot express.",
    ))
);
