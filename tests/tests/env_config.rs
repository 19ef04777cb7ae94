//! Configuration from the environment. One test in its own binary: it changes process-wide
//! environment variables, which must not race other tests.

use skelly_db::{Error, Executor, Pool, PoolConfig};

fn config_error(result: skelly_db::Result<PoolConfig>) -> String {
    match result {
        Err(Error::Config(message)) => message,
        other => panic!("expected Error::Config, got {other:?}"),
    }
}

#[tokio::test]
async fn pool_configuration_from_the_environment() {
    let url = std::env::var("DATABASE_URL").ok();
    let vars = [
        "DATABASE_POOL_MAX_SIZE",
        "DATABASE_CONNECT_TIMEOUT_MS",
        "DATABASE_POOL_WAIT_TIMEOUT_MS",
        "DATABASE_STATEMENT_TIMEOUT_MS",
    ];
    for v in vars {
        std::env::remove_var(v);
    }

    std::env::remove_var("DATABASE_URL");
    let m = config_error(PoolConfig::from_env());
    assert!(m.contains("DATABASE_URL is not set"), "{m}");

    std::env::set_var(
        "DATABASE_URL",
        "postgres://app:hunter2@localhost:notaport/db",
    );
    let m = config_error(PoolConfig::from_env());
    assert!(m.starts_with("DATABASE_URL is not a valid"), "{m}");
    assert!(!m.contains("hunter2"), "the password leaked: {m}");

    std::env::set_var(
        "DATABASE_URL",
        "postgres://app:hunter2@localhost/db?sslmode=sometimes",
    );
    let m = config_error(PoolConfig::from_env());
    assert!(m.starts_with("unknown sslmode `sometimes`"), "{m}");

    std::env::set_var("DATABASE_URL", "postgres://app:hunter2@localhost/db");
    std::env::set_var("DATABASE_STATEMENT_CACHE_SIZE", "0");
    let config = PoolConfig::from_env().unwrap();
    assert!(format!("{config:?}").contains("statement_cache_size: 0"));
    std::env::remove_var("DATABASE_STATEMENT_CACHE_SIZE");
    for (var, value, expect) in [
        (
            "DATABASE_POOL_MAX_SIZE",
            "ten",
            "DATABASE_POOL_MAX_SIZE must be a whole number, got `ten`",
        ),
        (
            "DATABASE_POOL_MAX_SIZE",
            "0",
            "DATABASE_POOL_MAX_SIZE must be at least 1",
        ),
        (
            "DATABASE_CONNECT_TIMEOUT_MS",
            "-5",
            "DATABASE_CONNECT_TIMEOUT_MS must be a whole number",
        ),
        (
            "DATABASE_POOL_WAIT_TIMEOUT_MS",
            "1s",
            "DATABASE_POOL_WAIT_TIMEOUT_MS must be a whole number",
        ),
        (
            "DATABASE_STATEMENT_TIMEOUT_MS",
            "x",
            "DATABASE_STATEMENT_TIMEOUT_MS must be a whole number",
        ),
        (
            "DATABASE_STATEMENT_CACHE_SIZE",
            "lots",
            "DATABASE_STATEMENT_CACHE_SIZE must be a whole number, got `lots`",
        ),
    ] {
        std::env::set_var(var, value);
        let m = config_error(PoolConfig::from_env());
        assert!(m.starts_with(expect), "{var}={value}: {m}");
        std::env::remove_var(var);
    }

    // Valid settings reach the pool and the server.
    if let Some(url) = &url {
        std::env::set_var("DATABASE_URL", url);
        std::env::set_var("DATABASE_POOL_MAX_SIZE", "3");
        std::env::set_var("DATABASE_STATEMENT_TIMEOUT_MS", "1234");
        std::env::set_var("DATABASE_CONNECT_TIMEOUT_MS", "2000");
        std::env::set_var("DATABASE_POOL_WAIT_TIMEOUT_MS", "100");
        let pool = Pool::from_env().unwrap();
        assert_eq!(pool.status().max_size, 3);
        let timeout: String = pool
            .query_one("SHOW statement_timeout", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(timeout, "1234ms");
        let held: Vec<_> = futures_util::future::join_all((0..3).map(|_| pool.get()))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let err = pool.get().await.unwrap_err();
        assert_eq!(err.code(), "pool_timeout");
        drop(held);
        pool.close().await;
        for v in vars {
            std::env::remove_var(v);
        }
    }

    // Without DATABASE_URL, test support starts a throwaway server or says what to set.
    std::env::remove_var("DATABASE_URL");
    match skelly_db::testing::TestDb::new().await {
        Ok(db) => {
            let one: i32 = db.pool().query_one("SELECT 1", &[]).await.unwrap().get(0);
            assert_eq!(one, 1);
        }
        Err(Error::Config(m)) => {
            assert!(m.contains("set DATABASE_URL="), "{m}");
        }
        Err(other) => panic!("expected a throwaway server or a Config error, got {other:?}"),
    }
    if let Some(url) = url {
        std::env::set_var("DATABASE_URL", url);
    }
}
