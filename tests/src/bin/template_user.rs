//! A test process that uses a template database, for tests/templates.rs: builds a `TestDb`
//! from the migrations in the directory given, prints `ready`, then exits (`exit`) or waits to
//! be killed (`wait`).

use std::io::Write as _;

use skelly_db::testing::TestDb;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(then)) = (args.next(), args.next()) else {
        eprintln!("usage: template_user <migrations dir> exit|wait");
        std::process::exit(2);
    };
    let db = match TestDb::builder().migrations(&dir).build().await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("template_user: {e}");
            std::process::exit(1);
        }
    };
    println!("ready {}", db.name());
    let _ = std::io::stdout().flush();
    if then == "wait" {
        tokio::time::sleep(std::time::Duration::from_secs(120)).await;
    }
}
