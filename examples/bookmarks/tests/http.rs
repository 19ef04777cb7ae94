//! End to end: the service binary started on a free port against a fresh database, driven over
//! HTTP as a client would.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use skelly_db::testing::TestDb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Service {
    child: Child,
    port: u16,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(url: &str) -> Service {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bookmarks"))
        .env("DATABASE_URL", url)
        .env("PORT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the service");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the service did not say where it listens: {line:?}"));
    Service { child, port }
}

// One HTTP/1.1 request: status and body.
async fn call(
    port: u16,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (
        head.split(' ').nth(1).unwrap().parse().unwrap(),
        body.to_string(),
    )
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[tokio::test]
async fn the_service_over_http() {
    let db = TestDb::new().await.unwrap();
    let service = start(&db.url());
    let port = service.port;

    // Users; a taken handle is a conflict.
    let (status, body) = call(
        port,
        "POST",
        "/users",
        Some(serde_json::json!({ "handle": "ada" })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let ada = json(&body)["id"].as_str().unwrap().to_string();
    let (_, body) = call(
        port,
        "POST",
        "/users",
        Some(serde_json::json!({ "handle": "bob" })),
    )
    .await;
    let bob = json(&body)["id"].as_str().unwrap().to_string();
    let (status, body) = call(
        port,
        "POST",
        "/users",
        Some(serde_json::json!({ "handle": "ada" })),
    )
    .await;
    assert_eq!(status, 409, "{body}");

    // Bookmarks with tags, in a transaction; too many tags is refused and writes nothing.
    for (title, tags) in [
        ("Rust book", vec!["rust", "books"]),
        ("PostgreSQL docs", vec!["sql"]),
        ("Tokio", vec!["rust", "async"]),
    ] {
        let (status, body) = call(
            port,
            "POST",
            &format!("/users/{bob}/bookmarks"),
            Some(serde_json::json!({ "url": format!("https://example.com/{title}"), "title": title, "tags": tags })),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = call(
        port,
        "POST",
        &format!("/users/{bob}/bookmarks"),
        Some(serde_json::json!({ "url": "https://x", "title": "x", "tags": ["a", "b", "c", "d", "e", "f"] })),
    )
    .await;
    assert_eq!(status, 422, "{body}");

    // By tag, one statement, newest first.
    let (status, body) = call(port, "GET", "/tags/rust/bookmarks", None).await;
    assert_eq!(status, 200, "{body}");
    let titles: Vec<String> = json(&body)["bookmarks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles, ["Tokio", "Rust book"]);

    // The feed: empty until ada follows bob.
    let (_, body) = call(port, "GET", &format!("/users/{ada}/feed"), None).await;
    assert_eq!(json(&body)["items"], serde_json::json!([]));
    let (status, _) = call(port, "POST", &format!("/users/{ada}/follows/{bob}"), None).await;
    assert_eq!(status, 204);
    let (status, body) = call(port, "GET", &format!("/users/{ada}/feed"), None).await;
    assert_eq!(status, 200, "{body}");
    let feed = json(&body);
    assert_eq!(feed["items"].as_array().unwrap().len(), 3);
    assert_eq!(feed["items"][0]["owner"], "bob");
    assert!(feed["next"].is_null());

    // Popular tags over a join; a soft-deleted bookmark no longer counts.
    let (_, body) = call(port, "GET", "/tags/popular", None).await;
    assert_eq!(json(&body)[0], serde_json::json!(["rust", 2]));
    let first_id = feed["items"][0]["bookmark"]["id"].as_i64().unwrap();
    let (status, _) = call(
        port,
        "DELETE",
        &format!("/users/{ada}/bookmarks/{first_id}"),
        None,
    )
    .await;
    assert_eq!(status, 404, "not ada's");
    let (status, _) = call(
        port,
        "DELETE",
        &format!("/users/{bob}/bookmarks/{first_id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (_, body) = call(port, "GET", "/tags/popular", None).await;
    let popular = json(&body);
    assert!(
        popular.as_array().unwrap().iter().all(|t| t[1] == 1),
        "{popular}"
    );

    // A bad cursor is the library's problem document.
    let (status, body) = call(
        port,
        "GET",
        &format!("/users/{ada}/feed?after=nonsense"),
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
}
