//! `GET /api/v1/cases`: filtered, paged, and always within the caller's scope.

use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use citygrid_domain::access::{Operation, Role, Scope, case_visibility};
use citygrid_domain::case::{CaseId, CaseState};
use citygrid_domain::personal::{normalize_id_number, normalize_phone};
use citygrid_domain::schema::{self, BoundingBox, Phone, ResidentId};
use citygrid_domain::{BBox, CategoryCode, UnitCode, named_schema};
use citygrid_store::{CaseFilter, Store};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::{IntoParams, ToSchema};

use super::CaseView;
use crate::ServerConfig;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;

/// One base64url group of three digits, then the tails of one or two digits.
macro_rules! digits_b64 {
    (3) => {
        "(?:[MN][DTjz]|O[DT])[AEIMQUYcgk][w-z0-5]"
    };
    (2) => {
        "(?:[MN][DTjz]|O[DT])[AEIMQUYcgk]"
    };
    (1) => {
        "(?:[MN][AQgw]|O[AQ])"
    };
}

/// The cursors the server issues: `after:<id>` (up to 18 digits) in
/// base64url without padding. [`decode_cursor`] reads every one it matches.
pub const CURSOR_PATTERN: &str = concat!(
    "^YWZ0ZXI6(?:",
    digits_b64!(3),
    "){0,5}(?:",
    digits_b64!(3),
    "|",
    digits_b64!(2),
    "|",
    digits_b64!(1),
    ")$"
);

named_schema!(
    /// A page cursor.
    Cursor => schema::matching(CURSOR_PATTERN, &encode_cursor(3001))
        .description(Some("Opaque: pass the previous page's `next_cursor` unchanged."))
);

named_schema!(
    /// Case states, comma-separated.
    CaseStates => {
        let one = CaseState::ALL.map(CaseState::as_str).join("|");
        schema::matching(&format!("^(?:{one})(?:,(?:{one}))*$"), "dispatched,handling")
    }
);

named_schema!(
    /// A page size; the document states the configured maximum.
    PageLimit => ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Integer))
        .minimum(Some(1))
        .maximum(Some(ServerConfig::default().max_page))
        .description(Some("Page size, at most the server's `max_page`."))
);

/// List filters; all optional and combined with AND.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Comma-separated states, e.g. `dispatched,handling`.
    #[param(value_type = Option<CaseStates>)]
    state: Option<String>,
    /// Category code.
    #[param(value_type = Option<CategoryCode>)]
    category: Option<String>,
    /// A territory code: cases in its subtree.
    #[param(value_type = Option<UnitCode>)]
    territory: Option<String>,
    /// Only cases whose running deadline has passed.
    overdue: Option<bool>,
    /// Reported at or after (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Reported before (RFC 3339).
    to: Option<DateTime<Utc>>,
    /// `min_lon,min_lat,max_lon,max_lat`.
    #[param(value_type = Option<BoundingBox>)]
    bbox: Option<String>,
    /// Reporter's phone number (exact; operators and departments; audited).
    /// Not together with `id_number`.
    #[param(value_type = Option<Phone>)]
    phone: Option<String>,
    /// Reporter's resident ID number (exact; operators and departments;
    /// audited). Not together with `phone`.
    #[param(value_type = Option<ResidentId>)]
    id_number: Option<String>,
    /// Opaque cursor from the previous page's `next_cursor`.
    #[param(value_type = Option<Cursor>)]
    cursor: Option<String>,
    /// Page size (default 50).
    #[param(value_type = Option<PageLimit>)]
    limit: Option<usize>,
}

/// One page.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseList {
    /// Newest first.
    items: Vec<CaseView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

pub(crate) fn encode_cursor(id: CaseId) -> String {
    URL_SAFE_NO_PAD.encode(format!("after:{id}"))
}

pub(crate) fn decode_cursor(c: &str) -> ApiResult<CaseId> {
    let bad = || ApiError::bad_request("invalid_cursor", "the cursor is not one this server issued");
    let raw = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let s = String::from_utf8(raw).map_err(|_| bad())?;
    s.strip_prefix("after:").and_then(|n| n.parse().ok()).ok_or_else(bad)
}

/// Cases visible to the caller, newest first. The caller's scope is part of
/// the query itself, so counts and pages never include anything outside it.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", params(ListQuery),
    responses((status = 200, body = CaseList), (status = 400, body = crate::error::ErrorBody)))]
pub async fn list<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<CaseList>> {
    let who = &caller.principal;
    if who.role == Role::Device || who.role == Role::Mediator {
        app.authorize(who, caller.ip, Operation::ReadCase, &Scope::Global, "cases").await?;
    }
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > app.config.max_page {
        return Err(ApiError::bad_request("invalid_limit", format!("limit must be 1–{}", app.config.max_page)));
    }
    let mut f = CaseFilter::scoped(case_visibility(who), limit);
    if let Some(states) = &q.state {
        for s in states.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            f.states.push(
                CaseState::parse(s).ok_or_else(|| ApiError::bad_request("invalid_state", format!("no state {s:?}")))?,
            );
        }
    }
    if let Some(c) = &q.category {
        f.category =
            Some(CategoryCode::parse(c).map_err(|e| ApiError::bad_request("invalid_category", e.to_string()))?);
    }
    if let Some(t) = &q.territory {
        f.territory = Some(UnitCode::parse(t).map_err(|e| ApiError::bad_request("invalid_code", e.to_string()))?);
    }
    if q.overdue == Some(true) {
        f.overdue_at = Some(Utc::now());
    }
    f.reported_from = q.from.map(|t| ApiError::check_instant("from", t)).transpose()?;
    f.reported_to = q.to.map(|t| ApiError::check_instant("to", t)).transpose()?;
    if let Some(b) = &q.bbox {
        f.bbox = Some(BBox::parse(b).ok_or_else(|| {
            ApiError::bad_request("invalid_bbox", "bbox must be min_lon,min_lat,max_lon,max_lat within range")
        })?);
    }
    if let Some(c) = &q.cursor {
        f.after = Some(decode_cursor(c)?);
    }
    let contact_index = match (&q.phone, &q.id_number) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("invalid_query", "search by phone or by id_number, not both"));
        }
        (Some(p), None) => Some(
            normalize_phone(p)
                .map(|p| app.vault.blind_index("phone", &p))
                .map_err(|e| ApiError::bad_request("invalid_phone", e.to_string()))?,
        ),
        (None, Some(i)) => Some(
            normalize_id_number(i)
                .map(|i| app.vault.blind_index("id", &i))
                .map_err(|e| ApiError::bad_request("invalid_id_number", e.to_string()))?,
        ),
        (None, None) => None,
    };
    if contact_index.is_some() {
        // Searching by personal data is itself a use of it: allowed roles only, audited.
        app.authorize(who, caller.ip, Operation::UnmaskCase, &Scope::Global, "cases/contact-search").await?;
        app.store.append_audit(app.audit_event(who, caller.ip, "case.search_contact", "cases")).await?;
    }
    f.contact_index = contact_index;
    let page = app.store.list_cases(f).await?;
    // Lists carry no contact. A department's list holds only cases dispatched
    // to it, which is all the policy needs to know to offer its actions.
    let ever: Vec<String> = who.department.iter().cloned().collect();
    let items = page.cases.into_iter().map(|c| CaseView::new(who, c, &ever, None)).collect();
    Ok(Json(CaseList { items, next_cursor: page.next_after.map(encode_cursor) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        assert_eq!(decode_cursor(&encode_cursor(42)).unwrap(), 42);
        assert!(decode_cursor("YWZ0ZXI6").is_err(), "no id");
        assert!(decode_cursor("42").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("before:1")).is_err());
    }

    /// The documented pattern matches every cursor issued, and every
    /// cursor it matches decodes. Groups of four base64 characters decode
    /// independently, so checking each group form suffices.
    #[test]
    fn the_cursor_pattern_matches_issued_cursors_only() {
        let re = regex::Regex::new(CURSOR_PATTERN).unwrap();
        let agree = |c: &str| assert!(!re.is_match(c) || decode_cursor(c).is_ok(), "{c}");
        for id in (0..2000).chain([999_999_999_999_999_999, 1 << 40]) {
            assert!(re.is_match(&encode_cursor(id)), "{id}");
        }
        assert!(!re.is_match(&encode_cursor(1_000_000_000_000_000_000)), "19 digits are not issued");
        for n in 0..1000 {
            assert!(re.is_match(&URL_SAFE_NO_PAD.encode(format!("after:{n:03}"))), "{n:03}");
        }
        // Every tail of up to three characters.
        let b64: Vec<char> = ('A'..='Z').chain('a'..='z').chain('0'..='9').chain(['-', '_']).collect();
        let mut tails = vec![String::new()];
        for _ in 0..3 {
            tails = tails.iter().flat_map(|t| b64.iter().map(move |c| format!("{t}{c}"))).collect();
            tails.iter().for_each(|t| agree(&format!("YWZ0ZXI6{t}")));
        }
        // Every full group the character classes could form.
        for a in "MNO".chars() {
            for b in "DTjz".chars() {
                for c in "AEIMQUYcgk".chars() {
                    for d in "wxyz012345".chars() {
                        agree(&format!("YWZ0ZXI6MDAw{a}{b}{c}{d}"));
                    }
                }
            }
        }
    }
}
