//! Departments (职能部门) that cases are dispatched to.

use serde::{Deserialize, Serialize};

use crate::territory::UnitCode;

/// A department or unit that handles cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Department {
    /// Stable code, e.g. `D340202-UM`.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::DepartmentCode))]
    pub code: String,
    /// Official name.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    pub name: String,
    /// What kind of department it is, e.g. `urban_management`; categories
    /// name the type that handles them by default.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    pub department_type: String,
    /// The territory it serves (the city, or one district).
    pub territory: UnitCode,
}

impl Department {
    /// Longest code accepted, in characters.
    pub const MAX_CODE_CHARS: usize = 64;
}

/// The department of `department_type` closest to `territory`: the one
/// serving the nearest enclosing unit (district before city).
pub fn default_department<'a>(
    departments: impl IntoIterator<Item = &'a Department>,
    department_type: &str,
    territory: &UnitCode,
) -> Option<&'a Department> {
    departments
        .into_iter()
        .filter(|d| d.department_type == department_type && d.territory.contains(territory))
        .max_by_key(|d| (d.territory.level(), std::cmp::Reverse(d.code.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dept(code: &str, t: &str, ty: &str) -> Department {
        Department {
            code: code.into(),
            name: code.into(),
            department_type: ty.into(),
            territory: UnitCode::parse(t).unwrap(),
        }
    }

    #[test]
    fn the_nearest_enclosing_department_wins() {
        let ds = vec![
            dept("D340200-UM", "340200", "urban_management"),
            dept("D340202-UM", "340202", "urban_management"),
            dept("D340207-UM", "340207", "urban_management"),
            dept("D340200-TP", "340200", "traffic_police"),
        ];
        let here = UnitCode::parse("340202001001001").unwrap();
        assert_eq!(default_department(&ds, "urban_management", &here).unwrap().code, "D340202-UM");
        assert_eq!(default_department(&ds, "traffic_police", &here).unwrap().code, "D340200-TP");
        assert!(default_department(&ds, "health", &here).is_none());
    }
}
