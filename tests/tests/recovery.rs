//! Issue 22, N4: a short server restart under write load. Back-off grows per outage, not per
//! concurrent failure, so the pool is writing again about one probe interval after the server
//! is back. The figures (writes lost, time from the server accepting connections to the first
//! write that succeeds) are printed for the note; the test asserts what must hold whatever the
//! machine's speed: writes resume, and every write reported done is in the table.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use skelly_db::testing::TempServer;
use skelly_db::{Executor, PoolConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_resume_one_probe_after_a_short_restart() {
    let server = tokio::task::spawn_blocking(|| TempServer::builder().start())
        .await
        .unwrap()
        .expect("a throwaway server (PostgreSQL binaries installed)");
    let pool = PoolConfig::new(&server.url("postgres"))
        .unwrap()
        .max_size(8)
        .connect_timeout(Duration::from_secs(2))
        .wait_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    pool.batch_execute("CREATE TABLE w (task int, n int)")
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicU64::new(0));
    let last_success = Arc::new(Mutex::new(Instant::now()));
    let first_success_after: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let back_at: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let (pool, stop, failed) = (pool.clone(), stop.clone(), failed.clone());
            let (last, first, back) = (
                last_success.clone(),
                first_success_after.clone(),
                back_at.clone(),
            );
            tokio::spawn(async move {
                let mut done = 0i32;
                while !stop.load(Ordering::Relaxed) {
                    match pool
                        .execute("INSERT INTO w VALUES ($1, $2)", &[&task, &done])
                        .await
                    {
                        Ok(_) => {
                            done += 1;
                            let now = Instant::now();
                            *last.lock().unwrap() = now;
                            if back.lock().unwrap().is_some() {
                                first.lock().unwrap().get_or_insert(now);
                            }
                        }
                        Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    }
                }
                done
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let down = Instant::now();
    let restart = tokio::task::spawn_blocking({
        let server = Arc::new(server);
        move || {
            server.pause().unwrap();
            std::thread::sleep(Duration::from_millis(300));
            server.resume().unwrap();
            server
        }
    });
    let server = restart.await.unwrap();
    let up = Instant::now();
    *back_at.lock().unwrap() = Some(up);
    common::eventually("writes succeed again", || async {
        first_success_after.lock().unwrap().is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let mut reported = 0i64;
    for t in tasks {
        reported += i64::from(t.await.unwrap());
    }
    let recovered = first_success_after.lock().unwrap().unwrap();
    eprintln!(
        "restart: server down {:?}; {} writes failed; first write {:?} after the server accepted \
         connections again",
        up - down,
        failed.load(Ordering::Relaxed),
        recovered.saturating_duration_since(up)
    );
    let rows: i64 = pool
        .query_one("SELECT count(*) FROM w", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, reported, "every write reported done is in the table");
    drop(server);
}
