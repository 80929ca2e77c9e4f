//! Hostile input and abuse: floods, per-address limits, login throttling,
//! slowloris, thousands of connections dropped at once, hostile strings.
//! Each gets its documented answer; nobody else is disturbed; nothing
//! acknowledged is lost; the server never panics.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use sori_client::raw::RawConnection;
use sori_client::{Client, ClientError, ConnectOptions, Event};
use sori_protocol::pb::{self, ErrorCode};
use sori_protocol::{Frame, HEADER_LEN, MAGIC, Message, PROTOCOL_VERSION, encode_to_bytes};
use sori_server::rate::{LimitsConfig, LoginThrottleConfig};

use crate::support::{
    self, PASSWORD, eventually, next_chat, read_raw, read_raw_kicked, server_code,
};

fn from(last: u8) -> ConnectOptions {
    ConnectOptions {
        local_addr: Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))),
        ..ConnectOptions::default()
    }
}

async fn raw_login(conn: &mut RawConnection, username: &str) {
    conn.write_frame(
        1,
        &Message::Login(pb::Login {
            username: username.into(),
            password: PASSWORD.into(),
            token: String::new(),
        }),
    )
    .await
    .unwrap();
    loop {
        match read_raw(conn).await {
            Some(Frame {
                request_id: 1,
                message: Message::LoginOk(_),
            }) => return,
            Some(Frame {
                request_id: 1,
                message,
            }) => panic!("login failed: {message:?}"),
            Some(_) => {}
            None => panic!("closed during login"),
        }
    }
}

#[tokio::test]
async fn a_flood_is_refused_then_cut_off_and_nobody_else_notices() {
    let config = sori_server::Config {
        limits: LimitsConfig {
            messages_per_sec: 5.0,
            messages_burst: 5.0,
            abuse_strikes: 3,
            ..support::generous_limits()
        },
        // Acks at once, so they are all in before the cut-off.
        history: false,
        ..support::config()
    };
    let server = support::start(config).await;
    let (_bystander, mut bystander_events) = server.user("bystander").await;
    let (setup, _se) = server.connect().await;
    setup.register("flooder", PASSWORD, "").await.unwrap();
    drop(setup);
    let mut flood = server.raw().await;
    // The login is frame 1 of the burst budget.
    raw_login(&mut flood, "flooder").await;
    // Thirty chats in one write.
    let mut burst = Vec::new();
    for n in 0..30u32 {
        let chat = Message::Chat(pb::Chat {
            room: String::new(),
            text: format!("flood {n}"),
        });
        burst.extend_from_slice(&encode_to_bytes(100 + n, &chat));
    }
    flood.write_bytes(&burst).await.unwrap();
    let mut acked = Vec::new();
    let mut limited = 0;
    let kicked = loop {
        match read_raw(&mut flood).await {
            Some(Frame {
                message: Message::ChatAck(ack),
                ..
            }) => acked.push(ack.seq),
            Some(Frame {
                message: Message::Error(err),
                ..
            }) => {
                assert_eq!(err.code(), ErrorCode::RateLimited);
                assert!(err.until_ms > 0, "says when to retry");
                limited += 1;
            }
            Some(Frame {
                message: Message::Kicked(kicked),
                ..
            }) => break kicked.code(),
            Some(_) => {}
            None => panic!("closed without a reason"),
        }
    };
    assert_eq!(kicked, ErrorCode::RateLimited);
    assert_eq!(acked.len(), 4, "the burst allowance, less the login");
    assert_eq!(limited, 3, "each strike is answered before the cut-off");
    // Every acknowledged message reached the bystander.
    for seq in acked {
        assert_eq!(next_chat(&mut bystander_events).await.seq, seq);
    }
    assert!(server.metrics.rate_limited.get() >= 4);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn one_address_gets_a_bounded_number_of_connections() {
    let config = sori_server::Config {
        limits: LimitsConfig {
            max_connections_per_ip: 3,
            ..support::generous_limits()
        },
        ..support::config()
    };
    let server = support::start(config).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let (client, events) = Client::connect_with(server.addr, from(2)).await.unwrap();
        client.ping().await.unwrap();
        held.push((client, events));
    }
    let (_fourth, mut events) = Client::connect_with(server.addr, from(2)).await.unwrap();
    match support::next(&mut events).await {
        Event::Kicked { code, .. } => assert_eq!(code, ErrorCode::TooManyConnections),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Another address is not affected.
    let (other, _oe) = Client::connect_with(server.addr, from(3)).await.unwrap();
    other.ping().await.unwrap();
    // A closed connection frees its place.
    held.pop();
    eventually("a place frees up", || server.metrics.sessions.get() == 3).await;
    let (again, _ae) = Client::connect_with(server.addr, from(2)).await.unwrap();
    again.ping().await.unwrap();
    server.stop().await.unwrap();
}

/// A server that takes two new connections from an address, then one
/// every two seconds.
fn two_new_connections_then_one_per_2s() -> sori_server::Config {
    sori_server::Config {
        limits: LimitsConfig {
            new_connections_per_ip_per_sec: 0.5,
            new_connections_per_ip_burst: 2.0,
            ..support::generous_limits()
        },
        ..support::config()
    }
}

#[tokio::test]
async fn new_connections_per_address_are_rate_limited() {
    let server = support::start(two_new_connections_then_one_per_2s()).await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        let mut conn = server.raw().await;
        conn.write_frame(1, &Message::Ping(pb::Ping { nonce: 1 }))
            .await
            .unwrap();
        codes.push(match read_raw(&mut conn).await {
            Some(Frame {
                message: Message::Pong(_),
                ..
            }) => None,
            Some(Frame {
                message: Message::Kicked(kicked),
                ..
            }) => Some(kicked.code()),
            other => panic!("unexpected {other:?}"),
        });
    }
    assert_eq!(
        codes,
        [
            None,
            None,
            Some(ErrorCode::TooManyConnections),
            Some(ErrorCode::TooManyConnections)
        ]
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_refused_connection_on_the_websocket_listener_gets_an_http_error() {
    // Browsers speak HTTP first: a Kicked frame there read as garbage
    // (ERR_INVALID_HTTP_RESPONSE), so the WebSocket listener refuses with
    // an HTTP status instead.
    let server = support::start(two_new_connections_then_one_per_2s()).await;
    let mut answers = Vec::new();
    for _ in 0..3 {
        let mut conn = tokio::net::TcpStream::connect(server.ws_addr)
            .await
            .unwrap();
        // Connection: close, or the answered ones would stay open for the
        // next request.
        conn.write_all(
            b"GET /favicon.svg HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut answer))
            .await
            .expect("the server answers and closes")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer).into_owned();
        answers.push(answer.lines().next().unwrap_or_default().to_owned());
        if answers.len() == 3 {
            assert!(answer.contains("too many new connections"), "{answer}");
        }
    }
    assert_eq!(
        answers,
        [
            "HTTP/1.1 200 OK",
            "HTTP/1.1 200 OK",
            "HTTP/1.1 429 Too Many Requests"
        ]
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn failed_logins_slow_down_that_account_only() {
    let config = sori_server::Config {
        limits: LimitsConfig {
            login: LoginThrottleConfig {
                account_free_failures: 2,
                base_delay: Duration::from_secs(30),
                ..LoginThrottleConfig::default()
            },
            ..support::generous_limits()
        },
        ..support::config()
    };
    let server = support::start(config).await;
    let (victim, _ve) = server.connect().await;
    victim.register("victim", PASSWORD, "").await.unwrap();
    victim.register("neighbour", PASSWORD, "").await.unwrap();
    let (attacker, _ae) = Client::connect_with(server.addr, from(9)).await.unwrap();
    for _ in 0..2 {
        assert_eq!(
            server_code(attacker.login("victim", "guess guess").await),
            ErrorCode::BadCredentials
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    match attacker.login("victim", "guess again").await {
        Err(ClientError::Server { code, until_ms, .. }) => {
            assert_eq!(code, ErrorCode::LoginThrottled);
            assert!(until_ms > now + 20_000, "says when to retry: {until_ms}");
        }
        other => panic!("expected LOGIN_THROTTLED, got {other:?}"),
    }
    // The right password waits too: the throttle protects the account.
    assert_eq!(
        server_code(victim.login("victim", PASSWORD).await),
        ErrorCode::LoginThrottled
    );
    // Other accounts log in as usual, even from the attacker's address.
    attacker.login("neighbour", PASSWORD).await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_that_stalls_inside_a_frame_is_closed() {
    let config = sori_server::Config {
        limits: LimitsConfig {
            partial_frame_timeout: Duration::from_millis(300),
            ..support::generous_limits()
        },
        ..support::config()
    };
    let server = support::start(config).await;
    let (bystander, _be) = server.user("bystander").await;
    // Half a header.
    let mut half_header = server.raw().await;
    half_header
        .write_bytes(&[MAGIC, PROTOCOL_VERSION, 50, 0, 1])
        .await
        .unwrap();
    // A whole header and half the body it announces.
    let mut half_body = server.raw().await;
    let mut bytes = vec![MAGIC, PROTOCOL_VERSION, 50, 0];
    bytes.extend_from_slice(&7u32.to_le_bytes());
    bytes.extend_from_slice(&10u32.to_le_bytes());
    bytes.extend_from_slice(&[0x08, 0x01]);
    assert_eq!(bytes.len(), HEADER_LEN + 2);
    half_body.write_bytes(&bytes).await.unwrap();
    let started = std::time::Instant::now();
    assert_eq!(
        read_raw_kicked(&mut half_header).await,
        ErrorCode::ReadTimeout
    );
    assert_eq!(
        read_raw_kicked(&mut half_body).await,
        ErrorCode::ReadTimeout
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // A connection that merely idles between frames is not a slowloris.
    let mut idle = server.raw().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    idle.write_frame(3, &Message::Ping(pb::Ping { nonce: 3 }))
        .await
        .unwrap();
    assert!(matches!(
        read_raw(&mut idle).await,
        Some(Frame {
            message: Message::Pong(_),
            ..
        })
    ));
    bystander.ping().await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn hostile_strings_get_their_documented_answers() {
    let server = support::start(support::config()).await;
    let (client, _events) = server.connect().await;
    let long = "x".repeat(10_000);
    let names: &[(&str, &str, ErrorCode)] = &[
        (
            "robert'); DROP TABLE accounts;--",
            "",
            ErrorCode::InvalidUsername,
        ),
        ("admin\u{0}", "", ErrorCode::InvalidUsername),
        ("\u{202e}evil", "", ErrorCode::InvalidUsername),
        (&long, "", ErrorCode::InvalidUsername),
        ("okname", "bad\u{1b}[31mred", ErrorCode::InvalidDisplayName),
        ("okname", "zero\u{200b}width", ErrorCode::InvalidDisplayName),
        ("okname", "' OR 1=1 --", ErrorCode::InvalidDisplayName),
        ("okname", &long, ErrorCode::InvalidDisplayName),
    ];
    for (username, display_name, code) in names {
        assert_eq!(
            server_code(client.register(username, PASSWORD, display_name).await),
            *code
        );
    }
    // A name that merely looks like SQL is stored as text, not run.
    client
        .register("Robert_Tables", PASSWORD, "Bobby Tables")
        .await
        .unwrap();
    client.login("robert_tables", PASSWORD).await.unwrap();
    let texts: &[(&str, ErrorCode)] = &[
        ("bell\u{7}", ErrorCode::InvalidText),
        ("\u{1b}[2J clear screen", ErrorCode::InvalidText),
        ("", ErrorCode::EmptyMessage),
        (&long, ErrorCode::MessageTooLong),
    ];
    for (text, code) in texts {
        assert_eq!(server_code(client.chat(text).await), *code);
    }
    client.chat("'; DELETE FROM messages; --").await.unwrap();
    let page = client.history("", 0, 5).await.unwrap();
    assert_eq!(
        page.messages.last().unwrap().text,
        "'; DELETE FROM messages; --"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn frames_refused_unread_count_against_the_rate_limit_too() {
    let config = sori_server::Config {
        limits: LimitsConfig {
            messages_per_sec: 5.0,
            messages_burst: 5.0,
            abuse_strikes: 3,
            ..support::generous_limits()
        },
        ..support::config()
    };
    let server = support::start(config).await;
    let mut raw = server.raw().await;
    // A hundred frames of an unknown type, then a hundred whose body is
    // not protobuf, in one write: answered UNKNOWN_TYPE / MALFORMED_BODY
    // while within the budget, then RATE_LIMITED, then cut off.
    let mut burst = Vec::new();
    for n in 0..100u32 {
        burst.extend_from_slice(&[MAGIC, PROTOCOL_VERSION]);
        burst.extend_from_slice(&999u16.to_le_bytes());
        burst.extend_from_slice(&(n + 1).to_le_bytes());
        burst.extend_from_slice(&0u32.to_le_bytes());
    }
    for n in 0..100u32 {
        burst.extend_from_slice(&[MAGIC, PROTOCOL_VERSION]);
        burst.extend_from_slice(&20u16.to_le_bytes());
        burst.extend_from_slice(&(n + 101).to_le_bytes());
        burst.extend_from_slice(&2u32.to_le_bytes());
        burst.extend_from_slice(&[0xff, 0xff]);
    }
    raw.write_bytes(&burst).await.unwrap();
    let mut answered = 0;
    let mut limited = 0;
    let kicked = loop {
        match read_raw(&mut raw).await {
            Some(Frame {
                message: Message::Error(err),
                ..
            }) if err.code() == ErrorCode::RateLimited => limited += 1,
            Some(Frame {
                message: Message::Error(_),
                ..
            }) => answered += 1,
            Some(Frame {
                message: Message::Kicked(kicked),
                ..
            }) => break kicked.code(),
            Some(_) => {}
            None => panic!("closed without a reason"),
        }
    };
    assert_eq!(kicked, ErrorCode::RateLimited);
    assert_eq!(answered, 5, "the burst allowance");
    assert_eq!(limited, 3, "each strike is answered before the cut-off");
    server.stop().await.unwrap();
}
