//! The WebSocket listener: the same chat as TCP, one Sori frame per binary
//! message, with origins checked and protocol breaches answered; and the
//! client's address behind a trusted proxy (X-Forwarded-For on WebSocket,
//! a PROXY protocol v2 header on TCP).

use std::net::SocketAddr;

use bytes::{Buf, BytesMut};
use sori_protocol::pb::{self, ErrorCode};
use sori_protocol::{Message, decode, encode_to_bytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{PASSWORD, WAIT, config, start};

/// A minimal WebSocket client: handshake, masked frames out, unmasked
/// frames in.
struct WsClient {
    stream: TcpStream,
    buf: BytesMut,
}

/// What the server sent: a Sori frame, or a WebSocket control frame.
#[derive(Debug)]
enum Got {
    Frame(u32, Message),
    Pong(Vec<u8>),
    Close(u16),
}

impl WsClient {
    /// Opens the connection and sends the upgrade request; returns the
    /// client and the response's status line.
    async fn open(addr: SocketAddr, path: &str, origin: Option<&str>) -> (WsClient, String) {
        let origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
        WsClient::open_with(addr, path, &origin).await
    }

    /// Opens the connection with `headers` (whole lines) in the upgrade.
    async fn open_with(addr: SocketAddr, path: &str, headers: &str) -> (WsClient, String) {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let origin = headers;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{origin}\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut buf = BytesMut::new();
        let head_end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let n = tokio::time::timeout(WAIT, stream.read_buf(&mut buf))
                .await
                .expect("response in time")
                .expect("read");
            if n == 0 {
                break buf.len();
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        buf.advance(head_end);
        let status = head.lines().next().unwrap_or_default().to_owned();
        (WsClient { stream, buf }, status)
    }

    /// Connects and expects the upgrade to succeed.
    async fn connect(addr: SocketAddr) -> WsClient {
        let (client, status) = WsClient::open(addr, "/ws", None).await;
        assert!(status.contains("101"), "upgrade refused: {status}");
        client
    }

    /// Sends one masked frame.
    async fn send_raw(&mut self, opcode: u8, payload: &[u8]) {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut out = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&out).await.expect("write");
    }

    /// Sends a Sori frame as one binary message.
    async fn send(&mut self, request_id: u32, msg: &Message) {
        self.send_raw(0x2, &encode_to_bytes(request_id, msg)).await;
    }

    /// The next thing the server sent.
    async fn next(&mut self) -> Got {
        loop {
            if let Some(got) = self.parse() {
                return got;
            }
            let n = tokio::time::timeout(WAIT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("a frame in time")
                .expect("read");
            assert!(n > 0, "the server closed without a close frame");
        }
    }

    fn parse(&mut self) -> Option<Got> {
        if self.buf.len() < 2 {
            return None;
        }
        let opcode = self.buf[0] & 0x0f;
        assert_eq!(self.buf[1] & 0x80, 0, "server frames are never masked");
        let (len, at) = match self.buf[1] & 0x7f {
            126 if self.buf.len() >= 4 => {
                (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
            }
            127 if self.buf.len() >= 10 => {
                let mut n = [0u8; 8];
                n.copy_from_slice(&self.buf[2..10]);
                (u64::from_be_bytes(n) as usize, 10)
            }
            126 | 127 => return None,
            n => (n as usize, 2),
        };
        if self.buf.len() < at + len {
            return None;
        }
        self.buf.advance(at);
        let payload = self.buf.split_to(len);
        Some(match opcode {
            0x2 => {
                let (frame, used) = decode(&payload, u32::MAX).expect("a whole Sori frame");
                assert_eq!(used, payload.len(), "exactly one frame per message");
                Got::Frame(frame.request_id, frame.message)
            }
            0xA => Got::Pong(payload.to_vec()),
            0x8 => Got::Close(u16::from_be_bytes([payload[0], payload[1]])),
            other => panic!("unexpected opcode {other}"),
        })
    }

    /// The next Sori frame, skipping pushes that are not `want`.
    async fn until(&mut self, want: impl Fn(&Message) -> bool) -> (u32, Message) {
        loop {
            match self.next().await {
                Got::Frame(id, msg) if want(&msg) => return (id, msg),
                Got::Frame(..) => {}
                other => panic!("expected a frame, got {other:?}"),
            }
        }
    }

    /// Registers and logs in over WebSocket.
    async fn login(&mut self, name: &str) {
        let register = Message::Register(pb::Register {
            username: name.into(),
            password: PASSWORD.into(),
            display_name: String::new(),
        });
        self.send(1, &register).await;
        let (_, ok) = self.until(|m| matches!(m, Message::Ok(_))).await;
        assert!(matches!(ok, Message::Ok(_)));
        let login = Message::Login(pb::Login {
            username: name.into(),
            password: PASSWORD.into(),
            token: String::new(),
        });
        self.send(2, &login).await;
        self.until(|m| matches!(m, Message::LoginOk(_))).await;
    }
}

#[tokio::test]
async fn websocket_and_tcp_clients_chat_in_one_order() {
    let server = start(config()).await;
    let (tcp, mut tcp_events) = server.user("tcp_user").await;
    let mut ws = WsClient::connect(server.ws_addr).await;
    ws.login("ws_user").await;
    // Both send, interleaved; both see every message in one order.
    for i in 0..10 {
        let chat = Message::Chat(pb::Chat {
            room: String::new(),
            text: format!("ws {i}"),
        });
        ws.send(100 + i, &chat).await;
        tcp.chat(&format!("tcp {i}")).await.expect("chat");
    }
    // The WebSocket user sees its 10 acks and the TCP user's 10 messages.
    let mut ws_seen = Vec::new();
    while ws_seen.len() < 20 {
        let (_, msg) = ws
            .until(|m| matches!(m, Message::ChatMessage(_) | Message::ChatAck(_)))
            .await;
        match msg {
            Message::ChatMessage(m) => ws_seen.push((m.seq, m.text)),
            Message::ChatAck(ack) => ws_seen.push((ack.seq, "ack".to_owned())),
            _ => unreachable!("filtered above"),
        }
    }
    let mut tcp_seen = Vec::new();
    while tcp_seen.len() < 10 {
        if let sori_client::Event::Chat(m) = tcp_events.next().await {
            tcp_seen.push((m.seq, m.text));
        }
    }
    // Every number names one message: the TCP user's messages and the
    // WebSocket user's (acked to it, seen by the TCP user) never share one,
    // and both users agree on the numbers of the WebSocket user's messages.
    let mut numbers: Vec<u64> = ws_seen.iter().map(|(seq, _)| *seq).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), 20, "20 messages, 20 numbers: {ws_seen:?}");
    for (seq, text) in &tcp_seen {
        assert!(text.starts_with("ws"), "TCP saw its own message {text}");
        assert!(
            ws_seen.iter().any(|(s, t)| s == seq && t == "ack"),
            "seq {seq} was acked to the WebSocket user"
        );
    }
    // Each side saw the other's messages in increasing order.
    let ws_order: Vec<u64> = ws_seen
        .iter()
        .filter(|(_, t)| t.starts_with("tcp"))
        .map(|(seq, _)| *seq)
        .collect();
    assert!(ws_order.windows(2).all(|w| w[0] < w[1]), "{ws_order:?}");
    assert!(tcp_seen.windows(2).all(|w| w[0].0 < w[1].0), "{tcp_seen:?}");
}

#[tokio::test]
async fn text_messages_and_split_frames_are_refused() {
    let server = start(config()).await;
    let mut ws = WsClient::connect(server.ws_addr).await;
    ws.send_raw(0x1, b"hello").await;
    match ws.next().await {
        Got::Frame(_, Message::Kicked(k)) => assert_eq!(k.code, ErrorCode::BadWebsocket as i32),
        other => panic!("expected Kicked, got {other:?}"),
    }
    assert!(matches!(ws.next().await, Got::Close(1003)));

    // Half a frame in one message.
    let mut ws = WsClient::connect(server.ws_addr).await;
    let frame = encode_to_bytes(1, &Message::Ping(pb::Ping { nonce: 1 }));
    ws.send_raw(0x2, &frame[..frame.len() - 1]).await;
    match ws.next().await {
        Got::Frame(_, Message::Kicked(k)) => assert_eq!(k.code, ErrorCode::BadWebsocket as i32),
        other => panic!("expected Kicked, got {other:?}"),
    }

    // Two frames in one message.
    let mut ws = WsClient::connect(server.ws_addr).await;
    let mut two = frame.to_vec();
    two.extend_from_slice(&frame);
    ws.send_raw(0x2, &two).await;
    match ws.next().await {
        Got::Frame(_, Message::Kicked(k)) => assert_eq!(k.code, ErrorCode::BadWebsocket as i32),
        other => panic!("expected Kicked, got {other:?}"),
    }
}

#[tokio::test]
async fn pings_are_answered_and_closes_are_echoed() {
    let server = start(config()).await;
    let mut ws = WsClient::connect(server.ws_addr).await;
    ws.send_raw(0x9, b"are you there").await;
    match ws.next().await {
        Got::Pong(payload) => assert_eq!(payload, b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }
    ws.send(7, &Message::Ping(pb::Ping { nonce: 9 })).await;
    let (id, pong) = ws.until(|m| matches!(m, Message::Pong(_))).await;
    assert_eq!(id, 7);
    assert!(matches!(pong, Message::Pong(pb::Pong { nonce: 9 })));
    ws.send_raw(0x8, &1000u16.to_be_bytes()).await;
    assert!(matches!(ws.next().await, Got::Close(1000)));
}

#[tokio::test]
async fn foreign_origins_and_wrong_paths_are_refused() {
    let server = start(config()).await;
    let (_, status) = WsClient::open(server.ws_addr, "/ws", Some("https://evil.example")).await;
    assert!(status.contains("403"), "{status}");
    let (_, status) = WsClient::open(server.ws_addr, "/elsewhere", None).await;
    assert!(status.contains("404"), "{status}");
    let same = format!("http://{}", server.ws_addr);
    let (_, status) = WsClient::open(server.ws_addr, "/ws", Some(&same)).await;
    assert!(status.contains("101"), "{status}");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_the_one_checked() {
    let refused: ipnet::IpNet = "203.0.113.7/32".parse().unwrap();
    let mut config = sori_server::Config {
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..config()
    };
    config.ip_policy.deny = vec![refused];
    let server = start(config).await;
    // The proxy (127.0.0.1) forwards a client the IP policy refuses.
    let (_, status) =
        WsClient::open_with(server.ws_addr, "/ws", "X-Forwarded-For: 203.0.113.7\r\n").await;
    assert!(status.contains("403"), "{status}");
    // Another client through the same proxy is let in.
    let (_, status) = WsClient::open_with(
        server.ws_addr,
        "/ws",
        "X-Forwarded-For: 198.51.100.9, 127.0.0.1\r\n",
    )
    .await;
    assert!(status.contains("101"), "{status}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn from_an_untrusted_peer_x_forwarded_for_is_ignored() {
    let mut config = config();
    config.ip_policy.deny = vec!["203.0.113.7/32".parse().unwrap()];
    let server = start(config).await;
    let (_, status) =
        WsClient::open_with(server.ws_addr, "/ws", "X-Forwarded-For: 203.0.113.7\r\n").await;
    assert!(
        status.contains("101"),
        "an untrusted header names nobody: {status}"
    );
    server.stop().await.unwrap();
}

/// A PROXY protocol v2 header naming `client` as the source (TCP over IPv4).
fn proxy_v2(client: std::net::SocketAddrV4) -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.push(0x21); // version 2, PROXY
    header.push(0x11); // TCP over IPv4
    header.extend_from_slice(&12u16.to_be_bytes());
    header.extend_from_slice(&client.ip().octets());
    header.extend_from_slice(&[127, 0, 0, 1]);
    header.extend_from_slice(&client.port().to_be_bytes());
    header.extend_from_slice(&5252u16.to_be_bytes());
    header
}

#[tokio::test]
async fn a_proxy_protocol_header_names_the_client_on_tcp() {
    let mut config = sori_server::Config {
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        proxy_protocol: true,
        ..config()
    };
    config.ip_policy.deny = vec!["203.0.113.7/32".parse().unwrap()];
    let server = start(config).await;
    // A refused client behind the proxy gets the refusal meant for it.
    let mut refused = server.raw().await;
    refused
        .write_bytes(&proxy_v2("203.0.113.7:40000".parse().unwrap()))
        .await
        .unwrap();
    let kicked = crate::support::read_raw_kicked(&mut refused).await;
    assert_eq!(kicked, ErrorCode::IpRefused);
    // Another is served, its frames read right after the header.
    let mut allowed = server.raw().await;
    let mut bytes = proxy_v2("198.51.100.9:40001".parse().unwrap());
    bytes.extend_from_slice(&encode_to_bytes(5, &Message::Ping(pb::Ping { nonce: 3 })));
    allowed.write_bytes(&bytes).await.unwrap();
    let pong = allowed.read_frame().await.unwrap().expect("a frame");
    assert_eq!(pong.request_id, 5);
    assert!(matches!(pong.message, Message::Pong(pb::Pong { nonce: 3 })));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_parked_websocket_session_chats_and_answers_pings() {
    let server = start(sori_server::Config {
        park_idle: Some(std::time::Duration::from_millis(100)),
        ..config()
    })
    .await;
    let mut ws = WsClient::connect(server.ws_addr).await;
    ws.login("ws_parked").await;
    let (tcp, mut tcp_events) = server.user("tcp_parked").await;
    let parked = || server.metrics.sessions_parked.get() == 2;
    crate::support::eventually("both sessions park", parked).await;

    // A message for the parked WebSocket session wakes it.
    tcp.chat("to the parked browser").await.expect("chat");
    let (_, msg) = ws
        .until(|m| matches!(m, Message::ChatMessage(c) if c.text == "to the parked browser"))
        .await;
    assert!(matches!(msg, Message::ChatMessage(_)));
    crate::support::eventually("both park again", parked).await;

    // A WebSocket ping to a parked session is answered.
    ws.send_raw(0x9, b"still there?").await;
    loop {
        match ws.next().await {
            Got::Pong(payload) => {
                assert_eq!(payload, b"still there?");
                break;
            }
            Got::Frame(..) => {}
            Got::Close(code) => panic!("closed with {code}"),
        }
    }
    crate::support::eventually("both park again", parked).await;

    // And a frame from it wakes it too.
    let chat = Message::Chat(pb::Chat {
        room: String::new(),
        text: "from the parked browser".into(),
    });
    ws.send(7, &chat).await;
    loop {
        if let sori_client::Event::Chat(m) = crate::support::next(&mut tcp_events).await {
            assert_eq!(m.text, "from the parked browser");
            break;
        }
    }
    server.stop().await.expect("stops");
}
