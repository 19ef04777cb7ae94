use super::*;

#[test]
fn error_stays_small_enough_for_result_large_err() {
    // Users return Result<_, Error> everywhere; clippy flags errors over 128 bytes.
    assert!(
        std::mem::size_of::<Error>() <= 128,
        "{}",
        std::mem::size_of::<Error>()
    );
}

#[test]
fn statuses_and_codes_of_errors_without_a_server() {
    let nf = Error::NotFound {
        table: "\"user\".users".into(),
    };
    assert_eq!((nf.status(), nf.code()), (404, "not_found"));
    assert_eq!(nf.to_string(), "no row found in \"user\".users");
    let bare = Error::NotFound {
        table: String::new(),
    };
    assert_eq!(bare.to_string(), "no row found");
    let cfg = Error::Config("DATABASE_URL is not set".into());
    assert_eq!((cfg.status(), cfg.code()), (500, "config"));
    let conn = Error::connection("refused", None);
    assert_eq!((conn.status(), conn.code()), (503, "connection"));
    let t = Error::Timeout {
        kind: TimeoutKind::PoolWait,
        message: "x".into(),
        source: None,
    };
    assert_eq!((t.status(), t.code()), (504, "pool_timeout"));
    assert!(!t.is_retryable());
}
