//! Issue 24: libpq's connection conventions against a server that wants a password. One test
//! in its own binary: it changes process-wide environment variables (PGPASSWORD, PGPASSFILE,
//! PGHOST, ...), which must not race other tests.

use std::os::unix::fs::PermissionsExt;

use skelly_db::testing::TempServer;
use skelly_db::{Executor, PoolConfig};

async fn connects(url: &str) -> skelly_db::Result<()> {
    let pool = PoolConfig::new(url)?.max_size(1).build()?;
    let outcome = pool.query_one("SELECT 1", &[]).await.map(drop);
    pool.close().await;
    outcome
}

#[tokio::test]
async fn passwords_and_pg_variables_as_libpq_reads_them() {
    for var in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
        "PGPASSFILE",
        "PGSSLMODE",
    ] {
        std::env::remove_var(var);
    }
    let server = tokio::task::spawn_blocking(|| {
        TempServer::builder()
            .hba_line("local all all trust")
            .hba_line("host all app 127.0.0.1/32 scram-sha-256")
            .hba_line("host all all 127.0.0.1/32 trust")
            .start()
    })
    .await
    .unwrap()
    .expect("a throwaway server (PostgreSQL binaries installed)");
    let port = server.port();
    let admin = PoolConfig::new(&server.url("postgres"))
        .unwrap()
        .build()
        .unwrap();
    admin
        .batch_execute("CREATE ROLE app LOGIN PASSWORD 's3cret'")
        .await
        .unwrap();
    admin.close().await;
    let url = format!("postgres://app@127.0.0.1:{port}/postgres");

    // No password anywhere: a typed auth error that says where one can come from.
    let err = connects(&url).await.unwrap_err();
    let text = err.to_string();
    assert_eq!(err.code(), "auth_failed", "{text}");
    assert!(
        text.contains("asks for a password")
            && text.contains("PGPASSWORD")
            && text.contains(".pgpass")
            && text.contains(&format!("127.0.0.1:{port}")),
        "{text}"
    );
    assert!(!text.contains("(SQLSTATE )"), "{text}");

    // PGPASSWORD fills it; the URL's own password wins over it.
    std::env::set_var("PGPASSWORD", "s3cret");
    connects(&url).await.unwrap();
    std::env::set_var("PGPASSWORD", "wrong");
    let err = connects(&url).await.unwrap_err();
    assert_eq!(err.code(), "auth_failed", "{err}");
    connects(&format!("postgres://app:s3cret@127.0.0.1:{port}/postgres"))
        .await
        .unwrap();
    std::env::remove_var("PGPASSWORD");

    // The password file, matched by host, port, database and user; ignored when others can
    // read it (as libpq ignores it).
    let dir = std::env::temp_dir().join(format!("skelly-pgpass-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pgpass");
    std::fs::write(
        &file,
        format!("# ours\n127.0.0.1:{port}:otherdb:app:nope\n127.0.0.1:{port}:*:app:s3cret\n"),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::env::set_var("PGPASSFILE", &file);
    connects(&url).await.unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(connects(&url).await.unwrap_err().code(), "auth_failed");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();

    // Host, port, user and database from PG* variables when the string leaves them out.
    std::env::set_var("PGHOST", "127.0.0.1");
    std::env::set_var("PGPORT", port.to_string());
    std::env::set_var("PGUSER", "app");
    std::env::set_var("PGDATABASE", "postgres");
    connects("postgres://").await.unwrap();
    let config = PoolConfig::new("postgres://").unwrap();
    assert_eq!(config.pg_config().get_user(), Some("app"));
    // A malformed variable names itself.
    std::env::set_var("PGPORT", "fivefourthreetwo");
    let err = PoolConfig::new("postgres://").unwrap_err();
    assert!(err.to_string().contains("PGPORT"), "{err}");
    for var in ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSFILE"] {
        std::env::remove_var(var);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
