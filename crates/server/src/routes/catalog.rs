//! Categories and departments: read by everyone, edited by administrators
//! (the edits are [`citygrid_app::catalog`]'s use cases).

use axum::Json;
use axum::extract::State;
use citygrid_domain::access::{Operation, Scope};
use citygrid_domain::schema::DepartmentCode;
use citygrid_domain::{Category, CategoryCode, Department};
use citygrid_store::Store;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};

/// Every category with its time limits and default department type.
#[utoipa::path(get, path = "/api/v1/categories", tag = "catalog", responses((status = 200, body = Vec<Category>)))]
pub async fn list_categories<S: Store>(State(app): State<App<S>>, caller: Caller) -> ApiResult<Json<Vec<Category>>> {
    app.authorize(&caller.principal, caller.ip, Operation::ReadReference, &Scope::Global, "categories").await?;
    Ok(Json(app.world().catalog.categories.values().cloned().collect()))
}

/// Creates or replaces one category (administrators).
#[utoipa::path(put, path = "/api/v1/categories/{code}", tag = "catalog", request_body = Category,
    params(("code" = CategoryCode, Path, description = "Category code; the body's `code` must be the same")),
    responses((status = 200, body = Category), (status = 422, body = crate::error::ErrorBody)))]
pub async fn put_category<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
    ApiJson(cat): ApiJson<Category>,
) -> ApiResult<Json<Category>> {
    let resource = format!("category/{code}");
    app.authorize(&caller.principal, caller.ip, Operation::ManageReference, &Scope::Global, &resource).await?;
    let code = CategoryCode::parse(&code).map_err(|e| ApiError::bad_request("invalid_code", e.to_string()))?;
    if cat.code != code {
        return Err(ApiError::invalid("the body's code must match the path"));
    }
    Ok(Json(app.put_category(&caller.actor(), cat).await?))
}

/// Every department.
#[utoipa::path(get, path = "/api/v1/departments", tag = "catalog", responses((status = 200, body = Vec<Department>)))]
pub async fn list_departments<S: Store>(State(app): State<App<S>>, caller: Caller) -> ApiResult<Json<Vec<Department>>> {
    app.authorize(&caller.principal, caller.ip, Operation::ReadReference, &Scope::Global, "departments").await?;
    Ok(Json(app.world().catalog.departments.values().cloned().collect()))
}

/// Creates or replaces one department (administrators).
#[utoipa::path(put, path = "/api/v1/departments/{code}", tag = "catalog", request_body = Department,
    params(("code" = DepartmentCode, Path, description = "Department code; the body's `code` must be the same")),
    responses((status = 200, body = Department), (status = 422, body = crate::error::ErrorBody)))]
pub async fn put_department<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
    ApiJson(dept): ApiJson<Department>,
) -> ApiResult<Json<Department>> {
    let resource = format!("department/{code}");
    app.authorize(&caller.principal, caller.ip, Operation::ManageReference, &Scope::Global, &resource).await?;
    if dept.code != code {
        return Err(ApiError::invalid("the body's code must match the path and be 1–64 characters"));
    }
    Ok(Json(app.put_department(&caller.actor(), dept).await?))
}
