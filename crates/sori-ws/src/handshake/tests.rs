use std::net::IpAddr;

use ipnet::IpNet;

use super::{
    HandshakeError, UpgradeError, accept_key, accept_response, client_ip, origin_allowed,
    parse_request, reject_response,
};

const MAX: usize = 8192;

/// The sample request from RFC 6455 §1.3.
const VALID: &str = "GET /chat?room=1 HTTP/1.1\r\n\
    Host: server.example.com\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Origin: http://example.com\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

fn parse(text: &str) -> super::Request {
    match parse_request(text.as_bytes(), MAX) {
        Ok(Some((request, len))) => {
            assert_eq!(len, text.len());
            request
        }
        other => panic!("expected a complete request, got {other:?}"),
    }
}

#[test]
fn accept_key_matches_rfc_example() {
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn valid_request() {
    let request = parse(VALID);
    assert_eq!(request.path(), "/chat?room=1");
    assert_eq!(request.host(), Some("server.example.com"));
    assert_eq!(request.origin(), Some("http://example.com"));
    assert_eq!(
        request.sec_websocket_key(),
        Some("dGhlIHNhbXBsZSBub25jZQ==")
    );
    assert!(request.x_forwarded_for().is_empty());
    assert_eq!(request.validate(), Ok(()));
    assert!(request.is_websocket_upgrade());
    let response = String::from_utf8(accept_response(&request).to_vec()).expect("ascii");
    assert!(response.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert!(response.contains("Upgrade: websocket\r\n"));
    assert!(response.ends_with("\r\n\r\n"));
    assert!(!response.to_ascii_lowercase().contains("extensions"));
    assert!(!response.to_ascii_lowercase().contains("protocol:"));
}

#[test]
fn incomplete_and_pipelined() {
    for cut in 0..VALID.len() {
        assert!(
            matches!(parse_request(&VALID.as_bytes()[..cut], MAX), Ok(None)),
            "cut {cut}"
        );
    }
    let mut with_frame = VALID.as_bytes().to_vec();
    with_frame.extend_from_slice(&[0x81, 0x80, 1, 2, 3, 4]);
    let (_, len) = parse_request(&with_frame, MAX)
        .expect("valid")
        .expect("complete");
    assert_eq!(len, VALID.len());
}

#[test]
fn header_size_limit() {
    assert!(matches!(
        parse_request(VALID.as_bytes(), 64),
        Err(HandshakeError::TooLarge { max: 64 })
    ));
    // Incomplete but already past the limit.
    let endless = format!("GET / HTTP/1.1\r\nX-Junk: {}", "a".repeat(100));
    assert!(matches!(
        parse_request(endless.as_bytes(), 64),
        Err(HandshakeError::TooLarge { .. })
    ));
}

#[test]
fn malformed_and_duplicates() {
    assert!(matches!(
        parse_request(b"\x16\x03\x01garbage\r\n\r\n", MAX),
        Err(HandshakeError::Malformed(_))
    ));
    let twice = VALID.replace(
        "Origin: http://example.com\r\n",
        "Origin: a\r\nOrigin: b\r\n",
    );
    assert!(matches!(
        parse_request(twice.as_bytes(), MAX),
        Err(HandshakeError::DuplicateHeader("origin"))
    ));
}

#[test]
fn header_matching_is_case_insensitive_and_lists_tokens() {
    let request = parse(
        &VALID
            .replace("Upgrade: websocket", "upgrade: WebSocket")
            .replace("Connection: Upgrade", "connection: keep-alive, UPGRADE"),
    );
    assert_eq!(request.validate(), Ok(()));
}

#[test]
fn which_requests_keep_the_connection_alive() {
    let get = |head: &str| parse(&format!("GET /app.js HTTP/1.1\r\nHost: h\r\n{head}\r\n"));
    assert!(get("").keeps_alive(), "HTTP/1.1 keeps alive by default");
    assert!(get("Connection: keep-alive\r\n").keeps_alive());
    assert!(get("Content-Length: 0\r\n").keeps_alive());
    assert!(!get("Connection: close\r\n").keeps_alive());
    assert!(!get("connection: Keep-Alive, CLOSE\r\n").keeps_alive());
    // A body the server does not read would be taken for the next request.
    assert!(!get("Content-Length: 5\r\n").keeps_alive());
    assert!(!get("Transfer-Encoding: chunked\r\n").keeps_alive());
    assert!(
        !parse("GET / HTTP/1.0\r\n\r\n").keeps_alive(),
        "HTTP/1.0 closes"
    );
}

#[test]
fn plain_gets_and_heads_ask_for_files() {
    assert!(parse("GET / HTTP/1.1\r\n\r\n").is_plain_get());
    assert!(parse("GET / HTTP/1.0\r\n\r\n").is_plain_get());
    let head = parse("HEAD / HTTP/1.1\r\n\r\n");
    assert!(head.is_plain_get() && head.is_head());
    assert!(!parse("GET / HTTP/1.1\r\n\r\n").is_head());
    assert!(!parse(VALID).is_plain_get(), "an upgrade");
    assert!(!parse("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").is_plain_get());
}

#[test]
fn if_none_match_names_the_versions_a_client_has() {
    let get = |head: &str| parse(&format!("GET /app.js HTTP/1.1\r\n{head}\r\n"));
    let tag = "\"0123abcd\"";
    assert!(!get("").has_version(tag));
    assert!(get("If-None-Match: \"0123abcd\"\r\n").has_version(tag));
    assert!(get("If-None-Match: \"old\", W/\"0123abcd\"\r\n").has_version(tag));
    assert!(get("If-None-Match: *\r\n").has_version(tag));
    assert!(!get("If-None-Match: \"old\"\r\n").has_version(tag));
    assert!(
        get("If-None-Match: \"old\"\r\nIf-None-Match: \"0123abcd\"\r\n").has_version(tag),
        "two headers are one list"
    );
    assert!(
        !get("If-None-Match: 0123abcd\r\n").has_version(tag),
        "unquoted"
    );
}

#[test]
fn invalid_upgrades() {
    let check = |text: String, expected: UpgradeError| {
        assert_eq!(parse(&text).validate(), Err(expected), "{text}");
    };
    check(VALID.replace("GET", "POST"), UpgradeError::NotGet);
    check(
        VALID.replace("HTTP/1.1", "HTTP/1.0"),
        UpgradeError::NotHttp11,
    );
    check(
        VALID.replace("Upgrade: websocket\r\n", ""),
        UpgradeError::NoUpgrade,
    );
    check(
        VALID.replace("Upgrade: websocket", "Upgrade: h2c"),
        UpgradeError::NoUpgrade,
    );
    check(
        VALID.replace("Connection: Upgrade", "Connection: close"),
        UpgradeError::NoConnectionUpgrade,
    );
    check(
        VALID.replace("Connection: Upgrade", "Connection: upgraded"),
        UpgradeError::NoConnectionUpgrade,
    );
    check(
        VALID.replace("Version: 13", "Version: 8"),
        UpgradeError::UnsupportedVersion,
    );
    check(
        VALID.replace("Sec-WebSocket-Version: 13\r\n", ""),
        UpgradeError::UnsupportedVersion,
    );
    check(
        VALID.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ="),
        UpgradeError::BadKey,
    );
    check(
        VALID.replace("dGhlIHNhbXBsZSBub25jZQ==", "not base64!!"),
        UpgradeError::BadKey,
    );
    check(
        VALID.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
        UpgradeError::BadKey,
    );
    assert_eq!(UpgradeError::UnsupportedVersion.status(), 426);
    assert_eq!(UpgradeError::NoUpgrade.status(), 426);
    assert_eq!(UpgradeError::BadKey.status(), 400);
}

#[test]
fn reject_responses() {
    let text = |status, reason| {
        String::from_utf8(reject_response(status, reason).to_vec()).expect("utf-8")
    };
    let response = text(426, "upgrade required");
    assert!(response.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
    assert!(response.contains("Sec-WebSocket-Version: 13\r\n"));
    assert!(response.contains("Connection: close\r\n"));
    assert!(response.ends_with("\r\n\r\nupgrade required\n"));
    assert!(response.contains("Content-Length: 17\r\n"));
    for (status, phrase) in [(400, "Bad Request"), (403, "Forbidden"), (404, "Not Found")] {
        let response = text(status, "no");
        assert!(response.starts_with(&format!("HTTP/1.1 {status} {phrase}\r\n")));
        assert!(response.contains("Connection: close\r\n"));
        assert!(!response.contains("Sec-WebSocket-Version"));
    }
}

#[test]
fn origin_rules() {
    let none: Vec<String> = Vec::new();
    let list = |entries: &[&str]| {
        entries
            .iter()
            .map(|entry| entry.to_string())
            .collect::<Vec<_>>()
    };
    // No Origin: a non-browser client, always allowed.
    assert!(origin_allowed(None, Some("chat.example"), &none));
    assert!(origin_allowed(None, None, &list(&["https://other"])));
    // Same host only.
    assert!(origin_allowed(
        Some("https://chat.example"),
        Some("chat.example"),
        &none
    ));
    assert!(origin_allowed(
        Some("https://Chat.Example:8443"),
        Some("chat.example:8443"),
        &none
    ));
    assert!(!origin_allowed(
        Some("https://chat.example"),
        Some("chat.example:8443"),
        &none
    ));
    assert!(!origin_allowed(
        Some("https://evil.example"),
        Some("chat.example"),
        &none
    ));
    assert!(!origin_allowed(Some("null"), Some("chat.example"), &none));
    assert!(!origin_allowed(Some("https://chat.example"), None, &none));
    // Wildcard.
    assert!(origin_allowed(
        Some("https://anything"),
        Some("chat.example"),
        &list(&["*"])
    ));
    // Exact list, case-insensitive, full origin.
    let allowed = list(&["https://chat.example", "http://localhost:3000"]);
    assert!(origin_allowed(
        Some("HTTPS://CHAT.EXAMPLE"),
        Some("x"),
        &allowed
    ));
    assert!(origin_allowed(
        Some("http://localhost:3000"),
        Some("x"),
        &allowed
    ));
    assert!(!origin_allowed(
        Some("http://chat.example"),
        Some("chat.example"),
        &allowed
    ));
    assert!(!origin_allowed(
        Some("http://localhost:3001"),
        Some("x"),
        &allowed
    ));
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

#[test]
fn client_ip_rules() {
    let trusted: Vec<IpNet> = vec![
        "10.0.0.0/8".parse().expect("net"),
        "::1/128".parse().expect("net"),
    ];
    let check = |peer: &str, xff: &[&str], expected: &str| {
        assert_eq!(
            client_ip(ip(peer), xff, &trusted),
            ip(expected),
            "peer {peer} xff {xff:?}"
        );
    };
    // An untrusted peer's header is ignored.
    check("203.0.113.9", &["198.51.100.1"], "203.0.113.9");
    // A trusted peer with no header is the client.
    check("10.0.0.1", &[], "10.0.0.1");
    // Rightmost untrusted entry wins; forged entries to its left are ignored.
    check(
        "10.0.0.1",
        &["6.6.6.6, 198.51.100.1, 10.0.0.2"],
        "198.51.100.1",
    );
    // Several headers are one list, in order.
    check(
        "10.0.0.1",
        &["6.6.6.6, 198.51.100.1", "10.0.0.3"],
        "198.51.100.1",
    );
    // Garbage stops the walk at the last trusted hop.
    check("10.0.0.1", &["198.51.100.1, garbage, 10.0.0.2"], "10.0.0.2");
    check("10.0.0.1", &["unknown"], "10.0.0.1");
    check("10.0.0.1", &["198.51.100.1,"], "10.0.0.1");
    // All trusted: the leftmost.
    check("10.0.0.1", &["10.0.0.5, 10.0.0.2"], "10.0.0.5");
    // Ports and IPv6.
    check("::1", &["198.51.100.1:4711"], "198.51.100.1");
    check("::1", &["[2001:db8::1]:80"], "2001:db8::1");
    check("::1", &[" 2001:db8::2 "], "2001:db8::2");
    // An IPv4-mapped peer is matched against IPv4 networks.
    check("::ffff:10.0.0.1", &["198.51.100.1"], "198.51.100.1");
    // Owned strings work too.
    let owned = vec!["198.51.100.7".to_string()];
    assert_eq!(
        client_ip(ip("10.1.1.1"), &owned, &trusted),
        ip("198.51.100.7")
    );
}

#[cfg(feature = "tokio")]
#[test]
fn read_request_keeps_the_pipelined_frame() {
    let mut input = VALID.as_bytes().to_vec();
    input.extend_from_slice(&[0x81, 0x80, 1, 2, 3, 4]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut buf = bytes::BytesMut::new();
    let mut reader = &input[..];
    let request = runtime
        .block_on(super::read_request(&mut reader, &mut buf, MAX))
        .expect("valid request");
    assert_eq!(request.path(), "/chat?room=1");
    assert_eq!(&buf[..], &[0x81, 0x80, 1, 2, 3, 4]);
    let mut short = &input[..20];
    let res = runtime.block_on(super::read_request(
        &mut short,
        &mut bytes::BytesMut::new(),
        MAX,
    ));
    assert!(matches!(res, Err(HandshakeError::Eof)));
}
