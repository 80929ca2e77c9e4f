//! The browser client's files on the WebSocket listener: several requests
//! to one connection (a page is some twenty files; a connection each would
//! spend an address's new-connection burst on two loads), which then
//! closes when asked, after 100 requests, at shutdown, or upgrades.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{WAIT, config, start};

/// An HTTP response as read: its head (status line and headers, lowercased
/// names kept as sent) and its body.
struct Response {
    head: String,
    body: Vec<u8>,
}

impl Response {
    fn status(&self) -> &str {
        self.head.split(' ').nth(1).unwrap_or_default()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// A connection to the WebSocket listener, and what was read past the
/// last response.
struct Http {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Http {
    async fn open(addr: SocketAddr) -> Http {
        Http {
            stream: TcpStream::connect(addr).await.expect("connect"),
            buf: Vec::new(),
        }
    }

    /// Sends `requests` (one, or several pipelined).
    async fn send(&mut self, requests: &str) {
        self.stream
            .write_all(requests.as_bytes())
            .await
            .expect("write");
    }

    /// Sends `request` and reads its response.
    async fn ask(&mut self, request: &str) -> Response {
        self.send(request).await;
        self.response().await
    }

    /// Reads one response (its body by Content-Length), keeping whatever
    /// follows it.
    async fn response(&mut self) -> Response {
        let mut response = self.head_only().await;
        let len: usize = response
            .header("content-length")
            .map_or(0, |len| len.parse().expect("a number"));
        while self.buf.len() < len {
            self.fill().await;
        }
        response.body = self.buf.drain(..len).collect();
        response
    }

    /// Reads a response's head, and no body (a HEAD's, a 304's).
    async fn head_only(&mut self) -> Response {
        let head_end = loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            self.fill().await;
        };
        let head = String::from_utf8(self.buf.drain(..head_end).collect()).expect("an ASCII head");
        Response {
            head,
            body: Vec::new(),
        }
    }

    async fn fill(&mut self) {
        let mut chunk = [0; 16 * 1024];
        let n = tokio::time::timeout(WAIT, self.stream.read(&mut chunk))
            .await
            .expect("the response in time")
            .expect("read");
        assert!(n > 0, "the connection closed inside a response");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// The server closes the connection (EOF) within `within`, with
    /// nothing more.
    async fn closes(mut self, within: Duration) {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(within, self.stream.read_to_end(&mut rest)).await;
        assert!(
            matches!(read, Ok(Ok(0))),
            "closed, with nothing more: {read:?}"
        );
    }
}

fn get(path: &str, headers: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n")
}

#[tokio::test]
async fn the_page_comes_over_one_connection_which_then_upgrades() {
    let server = start(config()).await;
    let mut http = Http::open(server.ws_addr).await;
    let index = http.ask(&get("/", "")).await;
    assert_eq!(index.status(), "200");
    assert!(
        index
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(index.header("connection"), Some("keep-alive"));
    assert_eq!(index.header("keep-alive"), Some("timeout=5, max=100"));
    assert!(String::from_utf8_lossy(&index.body).contains("app.js"));

    // Two more, sent together (pipelined): answered in order.
    http.send(&(get("/app.js", "") + &get("/style.css", "Connection: keep-alive\r\n")))
        .await;
    let app = http.response().await;
    assert_eq!(app.status(), "200");
    assert!(
        app.header("content-type")
            .unwrap()
            .starts_with("text/javascript")
    );
    let style = http.response().await;
    assert_eq!(style.status(), "200");
    assert!(
        style
            .header("content-type")
            .unwrap()
            .starts_with("text/css")
    );

    // Then the page's WebSocket, on the same connection.
    let upgrade = get(
        "/ws",
        "Upgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
    );
    let switched = http.ask(&upgrade).await;
    assert_eq!(switched.status(), "101");
    assert_eq!(
        switched.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_connection_closes_when_asked_for_http_1_0_and_after_an_error() {
    let server = start(config()).await;
    for request in [
        get("/", "Connection: close\r\n"),
        "GET / HTTP/1.0\r\n\r\n".to_owned(),
        // A body the server does not read would be taken for the next request.
        get("/", "Content-Length: 3\r\n") + "abc",
    ] {
        let mut http = Http::open(server.ws_addr).await;
        let response = http.ask(&request).await;
        assert_eq!(response.status(), "200", "{request:?}");
        assert_eq!(response.header("connection"), Some("close"), "{request:?}");
        http.closes(WAIT).await;
    }
    let mut http = Http::open(server.ws_addr).await;
    assert_eq!(http.ask(&get("/nothing-here.js", "")).await.status(), "404");
    http.closes(WAIT).await;
    // The WebSocket's own path without the upgrade: 426, which says how.
    let mut http = Http::open(server.ws_addr).await;
    let upgrade_required = http.ask(&get("/ws", "")).await;
    assert_eq!(upgrade_required.status(), "426");
    assert_eq!(upgrade_required.header("sec-websocket-version"), Some("13"));
    http.closes(WAIT).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_connection_carries_a_hundred_requests_then_closes() {
    let server = start(config()).await;
    let mut http = Http::open(server.ws_addr).await;
    for n in 1..=100 {
        let response = http.ask(&get("/favicon.svg", "")).await;
        assert_eq!(response.status(), "200");
        let want = if n < 100 { "keep-alive" } else { "close" };
        assert_eq!(response.header("connection"), Some(want), "request {n}");
    }
    http.closes(WAIT).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_closes_a_kept_connection_at_once() {
    let server = start(config()).await;
    let mut http = Http::open(server.ws_addr).await;
    assert_eq!(http.ask(&get("/", "")).await.status(), "200");
    // Well before the end of its five idle seconds: shutdown does not wait
    // for them.
    let stopping = tokio::spawn(server.stop());
    http.closes(Duration::from_secs(3)).await;
    stopping.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_file_the_client_has_is_not_sent_again_and_head_sends_no_body() {
    let server = start(config()).await;
    let mut http = Http::open(server.ws_addr).await;
    let first = http.ask(&get("/app.js", "")).await;
    let etag = first.header("etag").expect("an ETag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34);
    assert_eq!(first.header("cache-control"), Some("no-cache"));

    // A reload: the browser names the version it has.
    http.send(&get("/app.js", &format!("If-None-Match: {etag}\r\n")))
        .await;
    let again = http.head_only().await;
    assert_eq!(again.status(), "304");
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    assert_eq!(again.header("connection"), Some("keep-alive"));
    // Another file's tag, or an older one of this file: the file itself.
    let other = http
        .ask(&get("/style.css", &format!("If-None-Match: {etag}\r\n")))
        .await;
    assert_eq!(other.status(), "200");
    assert_ne!(other.header("etag"), Some(etag.as_str()));
    assert!(!other.body.is_empty());

    // HEAD: the head a GET would get, without the body; the connection
    // goes on with the next request right after it.
    http.send("HEAD /app.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await;
    let head = http.head_only().await;
    assert_eq!(head.status(), "200");
    assert_eq!(
        head.header("content-length"),
        first.header("content-length")
    );
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    let index = http.ask(&get("/", "")).await;
    assert_eq!(index.status(), "200");
    assert!(String::from_utf8_lossy(&index.body).contains("<html"));
    server.stop().await.unwrap();
}
