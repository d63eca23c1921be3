//! Reference data that ships with the binary: the standard category table,
//! Wuhu's departments, and the official holiday calendars. Each can be
//! replaced by the operator (`citygrid import`, `calendar_dir`).

use std::path::Path;

use citygrid_domain::calendar::{WorkingCalendar, YearCalendar, default_periods};
use citygrid_domain::{Category, CategoryCode, Department, TimeLimit, TimeLimits, UnitCode};
use serde::Deserialize;

/// The built-in category table.
pub const CATEGORIES_CSV: &str = include_str!("../../../data/categories.csv");
/// Wuhu's departments (demo).
pub const DEPARTMENTS_CSV: &str = include_str!("../../../data/departments.csv");
/// Built-in year files.
pub const CALENDAR_YEARS: &[&str] =
    &[include_str!("../../../data/calendar/2025.toml"), include_str!("../../../data/calendar/2026.toml")];

#[derive(Deserialize)]
struct CategoryRow {
    code: String,
    major_name: String,
    name: String,
    department_type: String,
    register_normal: u32,
    register_urgent: u32,
    dispatch_normal: u32,
    dispatch_urgent: u32,
    acknowledge_normal: u32,
    acknowledge_urgent: u32,
    handle_normal: u32,
    handle_urgent: u32,
}

fn csv_rows<T: for<'de> Deserialize<'de>>(text: &str) -> Result<Vec<(usize, T)>, String> {
    let mut r = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let mut out = vec![];
    for (i, row) in r.deserialize::<T>().enumerate() {
        let line = i + 2;
        out.push((line, row.map_err(|e| format!("line {line}: {e}"))?));
    }
    Ok(out)
}

/// Parses a category table (see `data/categories.csv`), validating every row.
pub fn parse_categories(text: &str) -> Result<Vec<Category>, String> {
    let mut out: Vec<Category> = vec![];
    for (line, r) in csv_rows::<CategoryRow>(text)? {
        let l = |normal_minutes, urgent_minutes| TimeLimit { normal_minutes, urgent_minutes };
        let c = Category {
            code: CategoryCode::parse(&r.code).map_err(|e| format!("line {line}: {e}"))?,
            major_name: r.major_name,
            name: r.name,
            department_type: r.department_type,
            limits: TimeLimits {
                register: l(r.register_normal, r.register_urgent),
                dispatch: l(r.dispatch_normal, r.dispatch_urgent),
                acknowledge: l(r.acknowledge_normal, r.acknowledge_urgent),
                handle: l(r.handle_normal, r.handle_urgent),
            },
            active: true,
        };
        c.validate().map_err(|e| format!("line {line}: {e}"))?;
        if out.iter().any(|o| o.code == c.code) {
            return Err(format!("line {line}: duplicate category {}", c.code));
        }
        out.push(c);
    }
    Ok(out)
}

#[derive(Deserialize)]
struct DepartmentRow {
    code: String,
    name: String,
    department_type: String,
    territory: String,
}

/// Parses a department table (see `data/departments.csv`).
pub fn parse_departments(text: &str) -> Result<Vec<Department>, String> {
    let mut out: Vec<Department> = vec![];
    for (line, r) in csv_rows::<DepartmentRow>(text)? {
        if r.code.is_empty() || r.name.is_empty() || r.department_type.is_empty() {
            return Err(format!("line {line}: code, name and department_type are required"));
        }
        if out.iter().any(|o| o.code == r.code) {
            return Err(format!("line {line}: duplicate department {}", r.code));
        }
        let territory = UnitCode::parse(&r.territory).map_err(|e| format!("line {line}: {e}"))?;
        out.push(Department { code: r.code, name: r.name, department_type: r.department_type, territory });
    }
    Ok(out)
}

/// Parses one year file.
pub fn parse_year(text: &str) -> Result<YearCalendar, String> {
    toml::from_str(text).map_err(|e| e.to_string())
}

/// The working calendar: built-in year files, or every `*.toml` in `dir`.
pub fn calendar(dir: Option<&Path>) -> Result<WorkingCalendar, String> {
    let texts: Vec<(String, String)> = match dir {
        None => CALENDAR_YEARS.iter().enumerate().map(|(i, t)| (format!("built-in #{i}"), (*t).to_owned())).collect(),
        Some(d) => {
            let mut files: Vec<_> = std::fs::read_dir(d)
                .map_err(|e| format!("{}: {e}", d.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            files
                .into_iter()
                .map(|p| std::fs::read_to_string(&p).map(|t| (p.display().to_string(), t)).map_err(|e| e.to_string()))
                .collect::<Result<_, _>>()?
        }
    };
    let years = texts
        .iter()
        .map(|(name, t)| parse_year(t).map_err(|e| format!("{name}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    WorkingCalendar::new(default_periods(), years).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_tables_parse() {
        let cats = parse_categories(CATEGORIES_CSV).unwrap();
        assert!(cats.len() > 100);
        assert_eq!(cats.iter().filter(|c| c.code.major() == "E07").count(), 8, "the eight Yangtze elements");
        let depts = parse_departments(DEPARTMENTS_CSV).unwrap();
        for c in &cats {
            assert!(
                depts.iter().any(|d| d.department_type == c.department_type && d.territory.as_str() == "340200"),
                "no city department handles {}",
                c.department_type
            );
        }
        let cal = calendar(None).unwrap();
        assert!(cal.covers(2025) && cal.covers(2026));
    }

    #[test]
    fn bad_rows_name_their_line() {
        let bad = "code,major_name,name,department_type,register_normal,register_urgent,dispatch_normal,dispatch_urgent,acknowledge_normal,acknowledge_urgent,handle_normal,handle_urgent\nE0101,a,b,c,0,1,1,1,1,1,1,1\n";
        assert!(parse_categories(bad).unwrap_err().contains("line 2"));
        assert!(parse_departments("code,name,department_type,territory\nD1,n,t,34x\n").unwrap_err().contains("line 2"));
    }
}
