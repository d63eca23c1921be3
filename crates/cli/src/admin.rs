//! `citygrid admin create`, `citygrid audit verify`, `citygrid keys rotate`.

use std::io::BufRead;

use chrono::Utc;
use citygrid_domain::access::Role;
use citygrid_domain::audit::verify_trail;
use citygrid_server::auth::password::{self, check_strength};
use citygrid_server::routes::users::check_username;
use citygrid_store::{AuditFilter, Store, UserRecord};

use crate::bootstrap::cli_event;

/// Creates an administrator, reading the password from standard input (one
/// line) so it never appears in the shell history or process list.
pub async fn create_admin<S: Store>(store: &S, username: &str, display_name: &str) -> Result<String, String> {
    check_username(username)?;
    eprintln!("password for {username} (one line on standard input):");
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password).map_err(|e| e.to_string())?;
    let password = password.trim_end_matches(['\r', '\n']);
    check_strength(password)?;
    let user = UserRecord {
        id: username.to_owned(),
        username: username.to_owned(),
        display_name: display_name.to_owned(),
        role: Role::Admin,
        unit: None,
        department: None,
        password_hash: password::hash(password.to_owned()).await.map_err(|e| e.to_string())?,
        active: true,
        failed_logins: 0,
        locked_until: None,
        created_at: Utc::now(),
    };
    store.create_user(user, cli_event("user.create", &format!("user/{username}"))).await.map_err(|e| e.to_string())?;
    Ok(format!("administrator {username} created"))
}

/// Checks the audit trail end to end, every chain and every checkpoint; an
/// error names the first bad record.
pub async fn verify_audit<S: Store>(store: &S) -> Result<String, String> {
    let records = store.audit_records(AuditFilter::default()).await.map_err(|e| e.to_string())?;
    match verify_trail(&records) {
        Ok(t) => Ok(format!(
            "audit trail intact: {} records, every chain verified, {} checkpoint(s) confirmed",
            t.records, t.checkpoints
        )),
        Err(b) => Err(format!("audit trail BROKEN at {b}")),
    }
}
