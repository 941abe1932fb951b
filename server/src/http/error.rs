//! The JSON body of every error the server answers with.

use crate::text::clip;
use axum::{
    Json,
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::{Map, Value};

/// An error answer: a status, a stable machine-readable `error` code, a sentence
/// for people and, where it helps, more fields (which item, which symbols).
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable code, such as `invalid_price`.
    pub code: &'static str,
    /// What was wrong, for people.
    pub message: String,
    /// Further fields of the body.
    pub details: Map<String, Value>,
    /// Headers of the answer, such as `Retry-After`.
    pub headers: HeaderMap,
}

impl ApiError {
    /// An error with no further fields.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Map::new(),
            headers: HeaderMap::new(),
        }
    }

    /// A `401` that asks for a bearer token of `realm`.
    pub fn unauthorized(realm: &'static str, message: impl Into<String>) -> Self {
        let challenge = format!("Bearer realm=\"{realm}\"");
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message).with_header(
            axum::http::header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&challenge).unwrap_or(HeaderValue::from_static("Bearer")),
        )
    }

    /// Adds the header `name` to the answer.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Adds the field `name` to the body.
    pub fn with(mut self, name: &str, value: impl Serialize) -> Self {
        if let Ok(value) = serde_json::to_value(value) {
            self.details.insert(name.to_owned(), value);
        }
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("error".into(), self.code.into());
        body.insert("message".into(), self.message.into());
        body.extend(self.details);
        (self.status, self.headers, Json(Value::Object(body))).into_response()
    }
}

/// `404` for a path the server has nothing at (no route, no file of the site).
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "nothing at {}; see docs/protocol.md for the endpoints",
            clip(uri.path(), 100)
        ),
    )
}

/// Middleware: axum's own `405` (a method a route does not answer) with a
/// JSON body, its `Allow` header kept. (A method-not-allowed fallback on the
/// router would take CORS preflights from the CORS layer.)
pub async fn json_405(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    // Cheap clones (the URI shares its bytes): the message is made only for a
    // 405, not for every request and stream that passes through.
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let response = next.run(request).await;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED
        || response
            .headers()
            .contains_key(axum::http::header::CONTENT_TYPE)
    {
        return response;
    }
    let (parts, _) = response.into_parts();
    let mut error = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not answered at {}", clip(uri.path(), 100)),
    );
    if let Some(allow) = parts.headers.get(axum::http::header::ALLOW) {
        error = error.with_header(axum::http::header::ALLOW, allow.clone());
    }
    error.into_response()
}
