//! Uploading attachments (photos, documents) before citing them as evidence.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use citygrid_domain::access::{Operation, Scope};
use citygrid_domain::schema::ContentHash;
use citygrid_store::{AttachmentMeta, Store};

use crate::app::App;
use crate::auth::Caller;
use crate::blobs::{ALLOWED_TYPES, content_hash, is_sha256, sniff};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;

/// An attachment's bytes and type, ready to send.
pub struct Blob {
    /// MIME type.
    pub content_type: String,
    /// Content.
    pub bytes: Vec<u8>,
}

/// Loads an attachment known to the store.
pub async fn send<S: Store>(app: &App<S>, sha: &str) -> ApiResult<Response> {
    let meta = app.store.attachment(sha).await?.ok_or_else(|| ApiError::not_found(format!("attachment {sha}")))?;
    // Metadata without bytes means the store lost a file: that is ours, not the caller's.
    let bytes =
        app.store.blob(sha).await?.ok_or_else(|| ApiError::internal(format!("attachment {sha} has no bytes")))?;
    Ok(Blob { content_type: meta.content_type, bytes }.into_response())
}

/// Uploads one file as the raw request body (JPEG, PNG, WebP, GIF or PDF,
/// detected from its bytes, up to `max_attachment_bytes`). Returns its
/// SHA-256, which actions and reports cite as evidence.
#[utoipa::path(post, path = "/api/v1/attachments", tag = "attachments",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = AttachmentMeta), (status = 413, body = crate::error::ErrorBody),
              (status = 415, body = crate::error::ErrorBody)))]
pub async fn upload<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let who = &caller.principal;
    app.authorize(who, caller.ip, Operation::UploadAttachment, &Scope::Global, "attachments").await?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(app.config.max_attachment_bytes)
        } else {
            ApiError::bad_request("bad_body", e.body_text())
        }
    })?;
    if body.is_empty() {
        return Err(ApiError::bad_request("empty_body", "send the file as the request body"));
    }
    if body.len() > app.config.max_attachment_bytes {
        return Err(too_large(app.config.max_attachment_bytes));
    }
    let content_type = sniff(&body).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("attachments must be one of {}", ALLOWED_TYPES.join(", ")),
        )
    })?;
    let size = body.len() as u64;
    let sha256 = content_hash(body.clone()).await;
    // Bytes first: metadata never names content that is not there.
    app.store.put_blob(&sha256, body.to_vec()).await?;
    let meta = AttachmentMeta {
        sha256: sha256.clone(),
        size,
        content_type: content_type.to_owned(),
        uploaded_by: who.id.clone(),
        uploaded_at: Utc::now(),
    };
    let ev = app.audit_event(who, caller.ip, "attachment.upload", &format!("attachment/{sha256}"));
    app.store.put_attachment(meta.clone(), ev).await?;
    // The first uploader owns the record; report what is stored.
    let stored = app.store.attachment(&sha256).await?.unwrap_or(meta);
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

/// 413 `payload_too_large`.
pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("attachments may be at most {limit} bytes"),
    )
}

/// One of the caller's own uploads (others are read through the cases citing them).
#[utoipa::path(get, path = "/api/v1/attachments/{sha256}", tag = "attachments",
    params(("sha256" = ContentHash, Path, description = "Content hash")),
    responses((status = 200, description = "The file"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn read_own<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiPath(sha): ApiPath<String>,
) -> ApiResult<Response> {
    let resource = format!("attachment/{sha}");
    if !is_sha256(&sha) {
        return Err(ApiError::bad_request("invalid_hash", "not a lowercase hex SHA-256"));
    }
    let mine = app.store.attachment(&sha).await?.is_some_and(|m| m.uploaded_by == caller.principal.id);
    if !mine {
        // Not revealing whether someone else uploaded it.
        return Err(ApiError::not_found(resource));
    }
    send(&app, &sha).await
}
