//! Pool metrics in the Prometheus text format: `cargo run --example metrics`, or
//! `cargo run --example metrics -- --serve 127.0.0.1:9187` to serve them on `/metrics` for a
//! Prometheus scraper until stopped.
//!
//! The pool comes from the environment (`DATABASE_URL`, and `DATABASE_REPLICA_URLS` for read
//! replicas, whose pools get series of their own labelled `role="replica"`). A few reads and
//! writes run first, so that the counters have something to show.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::process::ExitCode;

use skelly_db::{Executor, Pool};

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

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let pool = Pool::from_env()?;
    for _ in 0..10 {
        pool.query_one("SELECT 1", &[]).await?;
        pool.replica().query_one("SELECT 1", &[]).await?;
    }
    let serve = std::env::args().skip_while(|a| a != "--serve").nth(1);
    let Some(addr) = serve else {
        print!("{}", pool.metrics().to_prometheus());
        return Ok(());
    };
    let listener = TcpListener::bind(&addr)?;
    eprintln!("serving http://{addr}/metrics");
    let pool: Pool = pool.clone();
    // Metrics are read without a round trip (atomic counters), so a plain blocking server will
    // do; a real service adds a route to its own HTTP server instead.
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        for stream in listener.incoming() {
            let mut stream = stream?;
            let mut request_line = String::new();
            BufReader::new(&stream).read_line(&mut request_line)?;
            let (status, body) = if request_line.starts_with("GET /metrics ") {
                ("200 OK", pool.metrics().to_prometheus())
            } else {
                ("404 Not Found", String::from("try /metrics\n"))
            };
            write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )?;
        }
        Ok(())
    })
    .await??;
    Ok(())
}
