//! TLS with libpq's sslmode meanings, against real servers: the test server (Debian enables
//! TLS with its snakeoil certificate) for disable / prefer / require, and throwaway servers this
//! test starts itself, with a CA and server certificate made here, for verify-ca / verify-full
//! and the failures.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use skelly_db::testing::TempServer;
use skelly_db::{Error, Executor, PoolConfig, RootCert, SslMode};

/// Whether this connection's own backend is encrypted.
async fn encrypted(db: &impl Executor) -> bool {
    db.query_one(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn disable_prefer_and_require_on_the_test_server() {
    let db = common::empty_db().await;
    let offers_tls: String = db.pool().query_one("SHOW ssl", &[]).await.unwrap().get(0);
    let connect = |mode| db.pool_config().ssl_mode(mode).build().unwrap();

    let plain = connect(SslMode::Disable);
    assert!(!encrypted(&plain).await);
    let prefer = connect(SslMode::Prefer);
    assert_eq!(encrypted(&prefer).await, offers_tls == "on");
    let require = connect(SslMode::Require);
    match require.query_one("SELECT 1", &[]).await {
        Ok(_) => {
            assert_eq!(offers_tls, "on");
            assert!(encrypted(&require).await);
        }
        Err(err) => {
            // Never plaintext when TLS was required.
            assert_eq!(offers_tls, "off");
            assert_eq!(err.code(), "tls", "{err}");
        }
    }
    // The default is prefer, as in libpq.
    assert_eq!(
        PoolConfig::new(&db.url()).unwrap().get_ssl_mode(),
        SslMode::Prefer
    );
}

/// A CA, and a TLS server whose certificate it signed for the name `localhost` only.
struct TlsServer {
    server: TempServer,
    ca: PathBuf,
    other_ca: PathBuf,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn tls_server() -> &'static TlsServer {
    static SERVER: OnceLock<TlsServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let ca = ca("skelly-db test CA");
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let cert = params.signed_by(&key, &ca).unwrap();
        let server = TempServer::builder()
            .setting("ssl", "on")
            .setting("ssl_cert_file", "server.crt")
            .setting("ssl_key_file", "server.key")
            .file("server.crt", cert.pem())
            .file("server.key", key.serialize_pem())
            .start()
            .unwrap_or_else(|e| panic!("the TLS test server must start: {e}"));
        // In the server's directory: deleted with it when the test process exits.
        let dir = server.data_dir().to_path_buf();
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, ca.pem()).unwrap();
        let other_ca = dir.join("other-ca.pem");
        std::fs::write(&other_ca, self::ca("someone else's CA").pem()).unwrap();
        TlsServer {
            server,
            ca: ca_path,
            other_ca,
        }
    })
}

async fn try_connect(url: &str) -> Result<bool, Error> {
    let pool = PoolConfig::new(url)?.build()?;
    let ssl = pool
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await?
        .get(0);
    pool.close().await;
    Ok(ssl)
}

#[tokio::test]
async fn verify_full_and_verify_ca_with_the_right_ca() {
    let tls = tls_server();
    let port = tls.server.port();
    let ca = tls.ca.display();
    // The certificate names localhost: verify-full holds there.
    let url = format!(
        "postgres://postgres@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={ca}"
    );
    assert!(try_connect(&url).await.unwrap());
    // verify-ca checks the chain only, so 127.0.0.1 (not in the certificate) is fine.
    let url =
        format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=verify-ca&sslrootcert={ca}");
    assert!(try_connect(&url).await.unwrap());
    // The same through code instead of the URL.
    let pool = PoolConfig::new(&format!("postgres://postgres@localhost:{port}/postgres"))
        .unwrap()
        .ssl_mode(SslMode::VerifyFull)
        .ssl_root_cert(RootCert::File(tls.ca.clone()))
        .build()
        .unwrap();
    assert!(encrypted(&pool).await);
}

#[tokio::test]
async fn a_wrong_host_name_or_an_unknown_ca_fails_with_a_tls_error_naming_the_reason() {
    let tls = tls_server();
    let port = tls.server.port();
    let ca = tls.ca.display();
    let ca = &ca;
    let url = format!(
        "postgres://postgres@127.0.0.1:{port}/postgres?sslmode=verify-full&sslrootcert={ca}"
    );
    let err = try_connect(&url).await.unwrap_err();
    assert_eq!((err.code(), err.status()), ("tls", 503), "{err}");
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(
        text.contains("certificate not valid for name \"127.0.0.1\""),
        "{text}"
    );

    let other = tls.other_ca.display();
    let url = format!(
        "postgres://postgres@localhost:{port}/postgres?sslmode=verify-ca&sslrootcert={other}"
    );
    let err = try_connect(&url).await.unwrap_err();
    assert_eq!(err.code(), "tls", "{err}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");

    // Issue 22, N5: `require` with a root certificate verifies as libpq does (as verify-ca):
    // another CA's certificate is refused, the right one accepted.
    let url = format!(
        "postgres://postgres@127.0.0.1:{port}/postgres?sslmode=require&sslrootcert={other}"
    );
    let err = try_connect(&url).await.unwrap_err();
    assert_eq!(err.code(), "tls", "{err}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    let url =
        format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=require&sslrootcert={ca}");
    assert!(try_connect(&url).await.unwrap());
    // Without one, require only encrypts.
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=require");
    assert!(try_connect(&url).await.unwrap());
}

#[tokio::test]
async fn require_against_a_server_without_tls_fails_instead_of_going_plaintext() {
    let plain = TempServer::builder()
        .setting("ssl", "off")
        .start()
        .unwrap_or_else(|e| panic!("the plaintext test server must start: {e}"));
    let base = plain.url("postgres");
    for mode in ["require", "verify-ca", "verify-full"] {
        let url = format!(
            "{base}?sslmode={mode}&sslrootcert={}",
            tls_server().ca.display()
        );
        let err = try_connect(&url).await.unwrap_err();
        assert_eq!(err.code(), "tls", "{mode}: {err}");
        assert!(
            err.to_string().contains("server does not support TLS"),
            "{mode}: {err}"
        );
    }
    // prefer falls back to plaintext, as libpq does.
    assert!(!try_connect(&format!("{base}?sslmode=prefer"))
        .await
        .unwrap());
}

#[tokio::test]
async fn bad_tls_settings_are_config_errors_naming_the_parameter() {
    let err = PoolConfig::new("postgres://u@h/db?sslmode=verify_full").unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(
        err.to_string().contains("unknown sslmode `verify_full`"),
        "{err}"
    );

    let err = PoolConfig::new("postgres://u@h/db?sslmode=verify-ca&sslrootcert=/no/such/ca.pem")
        .unwrap()
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(
        err.to_string().contains("sslrootcert=/no/such/ca.pem"),
        "{err}"
    );

    let err = PoolConfig::new("postgres://u@h/db?sslmode=verify-full")
        .unwrap()
        .build();
    // Without sslrootcert, libpq's ~/.postgresql/root.crt is used if present; else it says so.
    if let Err(err) = err {
        assert!(err.to_string().contains("set sslrootcert="), "{err}");
    }
    let err = PoolConfig::new("host=h sslmode=sometimes").unwrap_err();
    assert!(
        err.to_string().contains("unknown sslmode `sometimes`"),
        "{err}"
    );
}
