//! The `axum` feature through a real HTTP round trip: a small service with a pool in its state,
//! served on a free port, driven by raw HTTP/1.1 over TCP.

mod common;

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use common::models::{Role, User};
use skelly_db::query::Cursor;
use skelly_db::Table;
use skelly_db::{Executor, Pool};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(serde::Deserialize)]
struct ListParams {
    after: Option<Cursor>,
}

async fn list(
    State(pool): State<Pool>,
    Query(params): Query<ListParams>,
) -> Result<Json<serde_json::Value>, skelly_db::Error> {
    let page = User::query()
        .order_by(User::EMAIL.asc())
        .page(&pool, 2, params.after.as_ref())
        .await?;
    let emails: Vec<String> = page.rows.into_iter().map(|u| u.email).collect();
    Ok(Json(
        serde_json::json!({ "emails": emails, "next": page.next }),
    ))
}

async fn one(State(pool): State<Pool>, Path(id): Path<String>) -> Result<String, skelly_db::Error> {
    let id: uuid::Uuid = id.parse().unwrap_or_default();
    Ok(User::get(&pool, id).await?.email)
}

async fn create(
    State(pool): State<Pool>,
    Path(email): Path<String>,
) -> Result<String, skelly_db::Error> {
    let user = User::insert(&pool, common::new_user(&email)).await?;
    Ok(user.id.to_string())
}

async fn broken(State(pool): State<Pool>) -> Result<String, skelly_db::Error> {
    pool.execute(
        "UPDATE nowhere SET secret = 'hunter2' WHERE id = $1",
        &[&7_i32],
    )
    .await?;
    Ok("unreachable".into())
}

// One request, the whole response as text (the server closes the connection).
async fn request(port: u16, method: &str, path: &str) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_string(), body.to_string())
}

#[tokio::test]
async fn errors_become_problem_responses_and_cursors_come_from_the_query_string() {
    let db = common::reference_db().await;
    let pool = db.pool().clone();
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        User::insert(&pool, common::new_user(email)).await.unwrap();
    }
    let app = Router::new()
        .route("/users", get(list))
        .route("/users/{id}", get(one))
        .route("/signup/{email}", axum::routing::post(create))
        .route("/broken", get(broken))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // Pages: the cursor goes out as a string and comes back through the query string.
    let (status, _, body) = request(port, "GET", "/users").await;
    assert_eq!(status, 200, "{body}");
    let first: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        first["emails"],
        serde_json::json!(["a@example.com", "b@example.com"])
    );
    let next = first["next"].as_str().unwrap();
    let (status, _, body) = request(port, "GET", &format!("/users?after={next}")).await;
    assert_eq!(status, 200, "{body}");
    let second: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(second["emails"], serde_json::json!(["c@example.com"]));
    assert!(second["next"].is_null());
    // An edited cursor is a 400 problem, from the extractor.
    let (status, _, _) = request(port, "GET", "/users?after=AAAA").await;
    assert_eq!(status, 400);

    // Not found: 404 problem+json.
    let (status, head, body) = request(port, "GET", &format!("/users/{}", uuid::Uuid::nil())).await;
    assert_eq!(status, 404);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{head}"
    );
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["code"], "not_found");
    assert_eq!(problem["status"], 404);

    // A unique violation: 409 with the constraint and its columns, not the value.
    let (status, _, body) = request(port, "POST", "/signup/a@example.com").await;
    assert_eq!(status, 409, "{body}");
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["code"], "unique_violation");
    assert_eq!(problem["constraint"], "users_email_key");
    assert_eq!(problem["columns"], serde_json::json!(["email"]));
    assert_eq!(problem["type"], "urn:skelly-db:unique_violation");
    assert!(!body.contains("a@example.com"), "{body}");

    // A server error: 500, nothing of the SQL, the values or the server's message.
    let (status, _, body) = request(port, "GET", "/broken").await;
    assert_eq!(status, 500);
    for secret in ["nowhere", "hunter2", "UPDATE", "relation", "42P01"] {
        assert!(!body.contains(secret), "{secret} leaked: {body}");
    }
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["detail"], "a database error occurred");
    let _ = Role::Member;
}
