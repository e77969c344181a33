//! One error type for the whole application and its mapping to HTTP.
//!
//! Every client error names the field it is about, so an integrator can fix the
//! request without guessing: `{"error": {"status": 422, "field": "area.coordinates[0]",
//! "message": "ring is not closed"}}`. Internal errors are logged with detail and
//! answered with a generic message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is well-formed but a value is not acceptable (422).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The request could not be read at all (400): bad JSON, bad query string.
    #[error("{field}: {message}")]
    BadRequest { field: String, message: String },
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// A valid credential that does not allow this request (403).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    /// The request conflicts with the current state (409), e.g. restoring a cancelled outage.
    #[error("{0}")]
    Conflict(String),
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::BadRequest {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Database(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Error::Invalid { field, .. } | Error::BadRequest { field, .. } => Some(field),
            Error::Unauthorized | Error::Forbidden(_) => Some("Authorization"),
            Error::PayloadTooLarge(_) => Some("body"),
            _ => None,
        }
    }

    fn public_message(&self) -> String {
        match self {
            Error::Invalid { message, .. } | Error::BadRequest { message, .. } => message.clone(),
            Error::Database(_) | Error::Internal(_) => "internal error; see the server log".into(),
            other => other.to_string(),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = ?self, "request failed");
        }
        let mut body = json!({ "status": status.as_u16(), "message": self.public_message() });
        if let Some(field) = self.field() {
            body["field"] = json!(field);
        }
        let mut response = (status, Json(json!({ "error": body }))).into_response();
        if matches!(self, Error::Unauthorized) {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
