//! Live metrics: the counters, the fan-out timing, the Prometheus endpoint.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{self, eventually};

#[tokio::test]
async fn broadcasts_are_timed_and_metrics_are_served_to_prometheus() {
    // A free port for the metrics listener.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics_addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let config = sori_server::Config {
        metrics_listen: Some(metrics_addr),
        ..support::config()
    };
    let server = support::start(config).await;
    let (alice, _ae) = server.user("alice").await;
    let (_bob, _be) = server.user("bob").await;
    // One broadcast in 64 is timed in a small room.
    for n in 0..64 {
        alice.chat(&format!("{n}")).await.unwrap();
    }
    eventually("a fan-out is timed", || server.metrics.fanouts.get() >= 1).await;
    let max = server.metrics.fanout_max_ns.get();
    assert!(max > 0 && max < 5_000_000_000, "{max} ns");
    assert_eq!(server.metrics.messages.get(), 64);
    assert_eq!(server.metrics.sessions.get(), 2);

    let mut conn = tokio::net::TcpStream::connect(metrics_addr).await.unwrap();
    conn.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.0 200 OK"), "{text}");
    assert!(
        text.contains("# TYPE sori_messages_total counter\nsori_messages_total 64\n"),
        "{text}"
    );
    assert!(text.contains("\nsori_sessions 2\n"), "{text}");
    assert!(text.contains("\nsori_fanouts_total "), "{text}");
    server.stop().await.unwrap();
}
