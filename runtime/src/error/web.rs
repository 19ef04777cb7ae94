//! `Error` as an HTTP response (feature `axum`): its [`Error::status`] and an RFC 9457
//! `application/problem+json` body.

use super::{ConstraintKind, Error};

/// The problem document of an error: what [`Error::problem`] gives and the `axum` response
/// carries. Built only from what is safe to show a client: the error's code and a fixed
/// title, and for a 4xx the constraint's name and columns or the table; never SQL, bound values,
/// the server's message or detail, hosts or credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `about:blank`-style type URI: `urn:skelly-db:<code>`.
    pub kind: String,
    /// A short, fixed summary of the kind of problem.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// What happened, in terms a client may see (generic for every 5xx).
    pub detail: String,
    /// [`Error::code`].
    pub code: &'static str,
    /// For a constraint violation: the constraint's name.
    pub constraint: Option<String>,
    /// For a constraint violation: the columns it covers.
    pub columns: Vec<String>,
}

impl Error {
    /// The problem document for a client: see [`Problem`].
    ///
    /// ```
    /// use skelly_db::{ConstraintKind, ConstraintViolation, Error};
    ///
    /// let mut v = ConstraintViolation::new(ConstraintKind::Unique, "users_email_key");
    /// v.columns = vec!["email".into()];
    /// let p = Error::Constraint(v).problem();
    /// assert_eq!((p.status, p.code, p.title), (409, "unique_violation", "Conflict"));
    /// assert_eq!(p.detail, "a row with this email already exists");
    /// ```
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let code = self.code();
        let mut constraint = None;
        let mut columns = Vec::new();
        let (title, detail) = match self {
            Error::Constraint(v) => {
                constraint = v.constraint.as_deref().map(str::to_string);
                columns = v.columns.clone();
                let what = match columns.is_empty() {
                    true => "these values".to_string(),
                    false => columns.join(", "),
                };
                match v.kind {
                    ConstraintKind::Unique | ConstraintKind::Exclusion => {
                        ("Conflict", format!("a row with this {what} already exists"))
                    }
                    ConstraintKind::ForeignKey => (
                        "Conflict",
                        format!(
                            "{what} refers to a row that does not exist, or is still referred to"
                        ),
                    ),
                    ConstraintKind::Check => ("Invalid value", format!("{what} is not allowed")),
                    ConstraintKind::NotNull => ("Missing value", format!("{what} is required")),
                }
            }
            Error::NotFound { .. } => ("Not found", "no such row".to_string()),
            Error::StaleVersion { .. } => (
                "Conflict",
                "the row was changed since it was read; read it again".to_string(),
            ),
            Error::InvalidCursor(_) => ("Bad request", "the page cursor is not valid".to_string()),
            Error::Seed { source, .. } | Error::Retried { source, .. } => {
                return source.problem();
            }
            _ => match status {
                503 => (
                    "Service unavailable",
                    "the database is unavailable".to_string(),
                ),
                504 => (
                    "Gateway timeout",
                    "the database did not answer in time".to_string(),
                ),
                _ => ("Internal error", "a database error occurred".to_string()),
            },
        };
        Problem {
            kind: format!("urn:skelly-db:{code}"),
            title,
            status,
            detail,
            code,
            constraint,
            columns,
        }
    }
}

#[cfg(feature = "axum")]
impl Problem {
    /// The JSON body (`type`, `title`, `status`, `detail`, `code`, and for a constraint
    /// violation `constraint` and `columns`).
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "type": self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        });
        if let Some(constraint) = &self.constraint {
            body["constraint"] = serde_json::Value::from(constraint.clone());
            body["columns"] = serde_json::Value::from(self.columns.clone());
        }
        body
    }
}

/// A handler returning `Result<_, skelly_db::Error>` (or `?` on one) answers with the error's
/// status and its [`Problem`] as `application/problem+json`.
///
/// ```
/// use axum_core::response::IntoResponse;
///
/// let response = skelly_db::Error::NotFound { table: "\"user\".\"users\"".into() }.into_response();
/// assert_eq!(response.status(), 404);
/// assert_eq!(response.headers()["content-type"], "application/problem+json");
/// ```
#[cfg(feature = "axum")]
impl axum_core::response::IntoResponse for Error {
    fn into_response(self) -> axum_core::response::Response {
        let problem = self.problem();
        // A 5xx is logged where it happened (the span of the statement); the client only gets
        // the problem document.
        let status = http::StatusCode::from_u16(problem.status)
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        let body = problem.to_json().to_string();
        let mut response = axum_core::response::Response::new(axum_core::body::Body::from(body));
        *response.status_mut() = status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}
