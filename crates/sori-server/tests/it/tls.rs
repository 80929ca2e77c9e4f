//! Chat over TLS, with a self-signed certificate made at test time.

use std::sync::Arc;

use sori_client::{Client, ConnectOptions, Event, TlsConnect};
use sori_server::config::TlsFiles;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::support::{self, PASSWORD, next};

/// A certificate for "localhost", its files, and a client that trusts it.
struct Certs {
    _dir: tempfile::TempDir,
    files: TlsFiles,
    connect: TlsConnect,
}

fn make_certs() -> Certs {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(certified.cert.der().to_vec()))
        .unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Certs {
        _dir: dir,
        files: TlsFiles { cert, key },
        connect: TlsConnect {
            connector: TlsConnector::from(Arc::new(config)),
            server_name: ServerName::try_from("localhost").unwrap(),
        },
    }
}

#[tokio::test]
async fn clients_chat_over_tls() {
    let certs = make_certs();
    let config = sori_server::Config {
        tls: Some(certs.files.clone()),
        ..support::config()
    };
    let server = support::start(config).await;
    let opts = ConnectOptions {
        tls: Some(certs.connect.clone()),
        ..ConnectOptions::default()
    };
    let (alice, _alice_events) = Client::connect_with(server.addr, opts.clone())
        .await
        .unwrap();
    let (bob, mut bob_events) = Client::connect_with(server.addr, opts).await.unwrap();
    for (client, name) in [(&alice, "alice"), (&bob, "bob")] {
        client.register(name, PASSWORD, "").await.unwrap();
        client.login(name, PASSWORD).await.unwrap();
    }
    alice.chat("secret handshake").await.unwrap();
    alice.whisper("bob", "just us").await.unwrap();
    loop {
        match next(&mut bob_events).await {
            Event::Chat(msg) => assert_eq!(msg.text, "secret handshake"),
            Event::Whisper(msg) => {
                assert_eq!(msg.text, "just us");
                break;
            }
            Event::UserJoined(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_plain_client_cannot_talk_to_a_tls_listener() {
    let certs = make_certs();
    let config = sori_server::Config {
        tls: Some(certs.files.clone()),
        ..support::config()
    };
    let server = support::start(config).await;
    let (plain, _events) = Client::connect(server.addr).await.unwrap();
    assert!(
        plain.ping().await.is_err(),
        "a Sori frame is not a TLS hello"
    );
    // The server is unharmed.
    let opts = ConnectOptions {
        tls: Some(certs.connect.clone()),
        ..ConnectOptions::default()
    };
    let (client, _events) = Client::connect_with(server.addr, opts).await.unwrap();
    client.ping().await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_bad_certificate_path_stops_the_server_with_a_clear_error() {
    let config = sori_server::Config {
        tls: Some(TlsFiles {
            cert: "/nonexistent/cert.pem".into(),
            key: "/nonexistent/key.pem".into(),
        }),
        ..support::config()
    };
    let server = support::start(config).await;
    let err = server.stop().await.unwrap_err();
    assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
}

#[tokio::test]
async fn the_login_timeout_counts_from_the_connection_not_the_handshake() {
    use tokio::io::AsyncReadExt;

    let certs = make_certs();
    let config = sori_server::Config {
        tls: Some(certs.files.clone()),
        login_timeout: std::time::Duration::from_secs(2),
        ..support::config()
    };
    let server = support::start(config).await;
    let connected = std::time::Instant::now();
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    // A slow handshake: it finishes three quarters into the login timeout.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let TlsConnect {
        connector,
        server_name,
    } = certs.connect.clone();
    let mut tls = connector.connect(server_name, tcp).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tls.read_to_end(&mut buf),
    )
    .await;
    let lived = connected.elapsed();
    // Closed at the login timeout after the connection (2 s), not after
    // the handshake (3.5 s): an unauthenticated connection never lives
    // twice the timeout.
    assert!(
        lived < std::time::Duration::from_millis(3000),
        "closed {lived:?} after connecting"
    );
    server.stop().await.unwrap();
}
