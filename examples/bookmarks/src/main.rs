//! The bookmarks service: `DATABASE_URL=... PORT=8080 cargo run -p skelly-db-example-bookmarks`.
//! Applies its embedded migrations, checks the schema against its structs, then serves.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let pool = skelly_db::Pool::from_env().map_err(|e| e.to_string())?;
    skelly_db_example_bookmarks::prepare(&pool).await?;
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on port {port}: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    // The end-to-end test reads this line for the port.
    println!("listening on {address}");
    axum::serve(listener, skelly_db_example_bookmarks::app(pool))
        .await
        .map_err(|e| e.to_string())
}
