//! Each codec's parser on byte-exact samples, fed whole and one byte at a
//! time (every possible split across reads).

use bytes::{BufMut, BytesMut};
use sori_protocol::pb::{self, ErrorCode};
use sori_protocol::{Message, encode};

use super::*;
use crate::payload::{self, Stamp};

const STAMP: Stamp = Stamp {
    sent_ns: 0x1122_3344_5566_7788,
    number: 7,
};

fn stamp_bytes() -> Vec<u8> {
    let mut buf = Vec::new();
    payload::write(&mut buf, payload::DEFAULT_LEN, STAMP);
    buf
}

/// What parsing `input` produced.
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    stamps: Vec<Stamp>,
    replies: Vec<u8>,
    ready: bool,
    left: usize,
}

/// Parses `input` whole, then again fed one byte at a time, and checks that
/// both give `expected`.
fn check(codec: &mut dyn FnMut() -> Box<dyn Codec>, input: &[u8], expected: Outcome) {
    let whole = run(codec().as_mut(), [input]);
    assert_eq!(whole, expected, "fed whole");
    let bytes = run(codec().as_mut(), input.chunks(1));
    assert_eq!(bytes, expected, "fed byte by byte");
}

fn run<'a>(codec: &mut dyn Codec, reads: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut buf = BytesMut::new();
    let mut parsed = Parsed::default();
    let mut outcome = Outcome::default();
    for read in reads {
        buf.put_slice(read);
        codec.parse(&mut buf, &mut parsed).expect("valid input");
        outcome.stamps.append(&mut parsed.stamps);
        outcome.replies.extend_from_slice(&parsed.replies.split());
        outcome.ready |= parsed.ready;
    }
    outcome.left = buf.len();
    outcome
}

fn receiver(target: &dyn Target) -> impl FnMut() -> Box<dyn Codec> + '_ {
    move || target.codec(0, Role::Receiver)
}

#[test]
fn nats_msg_split_across_reads() {
    let nats = Nats::new("");
    let mut input =
        b"INFO {\"server_id\":\"x\",\"max_payload\":1048576}\r\n+OK\r\nPONG\r\n".to_vec();
    input.extend_from_slice(b"MSG sori.bench 1 64\r\n");
    input.extend_from_slice(&stamp_bytes());
    input.extend_from_slice(
        b"\r\nPING\r\nMSG sori.bench 1 reply.to 5\r\nhello\r\nMSG sori.bench 1 64\r\n",
    );
    input.extend_from_slice(&stamp_bytes()[..10]);
    check(
        &mut receiver(&nats),
        &input,
        Outcome {
            stamps: vec![STAMP],
            replies: b"PONG\r\n".to_vec(),
            ready: true,
            left: 21 + 10,
        },
    );
}

#[test]
fn nats_handshake_and_publish_bytes() {
    let nats = Nats::new("");
    let mut out = BytesMut::new();
    let mut codec = nats.codec(0, Role::Receiver);
    codec.handshake(&mut out);
    codec.encode_publish(b"abc", &mut out);
    assert_eq!(
        &out[..],
        &b"CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"sori-bench\"}\r\nSUB sori.bench 1\r\nPING\r\nPUB sori.bench 3\r\nabc\r\n"[..]
    );
}

#[test]
fn nats_err_is_an_error() {
    let mut codec = Nats::new("").codec(0, Role::Receiver);
    let mut buf = BytesMut::from(&b"-ERR 'Authorization Violation'\r\n"[..]);
    let err = codec.parse(&mut buf, &mut Parsed::default()).unwrap_err();
    assert!(matches!(err, ProtocolError::Refused(_)), "{err:?}");
}

#[test]
fn redis_push_arrays() {
    let redis = Redis::new("");
    let mut input = b"*3\r\n$9\r\nsubscribe\r\n$10\r\nsori.bench\r\n:1\r\n".to_vec();
    input.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n$10\r\nsori.bench\r\n$64\r\n");
    input.extend_from_slice(&stamp_bytes());
    input.extend_from_slice(b"\r\n*3\r\n$7\r\nmessage\r\n$10\r\nsori.bench\r\n$5\r\nhello\r\n");
    input.extend_from_slice(b">3\r\n$7\r\nmessage\r\n$10\r\nsori.bench\r\n$64\r\n");
    input.extend_from_slice(&stamp_bytes());
    input.extend_from_slice(b"\r\n:3\r\n$-1\r\n*3\r\n$7\r\nmess");
    check(
        &mut receiver(&redis),
        &input,
        Outcome {
            stamps: vec![STAMP, STAMP],
            replies: Vec::new(),
            ready: true,
            left: 12,
        },
    );
}

#[test]
fn redis_sender_pong_and_publish_bytes() {
    let redis = Redis::new("room");
    let mut codec = redis.codec(0, Role::Sender);
    let mut out = BytesMut::new();
    codec.handshake(&mut out);
    codec.encode_publish(b"abc", &mut out);
    assert_eq!(
        &out[..],
        &b"*1\r\n$4\r\nPING\r\n*3\r\n$7\r\nPUBLISH\r\n$4\r\nroom\r\n$3\r\nabc\r\n"[..]
    );
    let outcome = run(codec.as_mut(), [&b"+PONG\r\n:12\r\n"[..]]);
    assert!(outcome.ready);
    assert_eq!(outcome.left, 0);
}

#[test]
fn redis_error_is_an_error() {
    let mut codec = Redis::new("").codec(0, Role::Receiver);
    let mut buf = BytesMut::from(&b"-ERR max number of clients reached\r\n"[..]);
    assert!(codec.parse(&mut buf, &mut Parsed::default()).is_err());
}

fn frame(request_id: u32, message: Message) -> Vec<u8> {
    let mut buf = Vec::new();
    encode(request_id, &message, &mut buf);
    buf
}

fn chat_message(text: &str) -> Message {
    Message::ChatMessage(pb::ChatMessage {
        room: String::new(),
        seq: 300,
        timestamp_ms: 1_700_000_000_000,
        from: Some(pb::UserInfo {
            username: "alice".into(),
            display_name: "Alice".into(),
        }),
        text: text.into(),
    })
}

#[test]
fn sori_frames() {
    let sori = Sori::new("", "bench");
    let text = String::from_utf8(stamp_bytes()).unwrap();
    let mut input = frame(1, Message::error(ErrorCode::UsernameTaken, "taken"));
    input.extend(frame(
        2,
        Message::LoginOk(pb::LoginOk {
            session_id: 1,
            ..Default::default()
        }),
    ));
    input.extend(frame(0, Message::UserJoined(pb::UserJoined { user: None })));
    input.extend(frame(0, chat_message(&text)));
    input.extend(frame(0, chat_message("a person typed this")));
    input.extend(frame(0, Message::Ping(pb::Ping { nonce: 99 })));
    input.extend(frame(
        16,
        Message::ChatAck(pb::ChatAck {
            room: String::new(),
            seq: 1,
            timestamp_ms: 2,
        }),
    ));
    let partial = frame(0, chat_message(&text));
    input.extend_from_slice(&partial[..20]);
    check(
        &mut receiver(&sori),
        &input,
        Outcome {
            stamps: vec![STAMP],
            replies: frame(0, Message::Pong(pb::Pong { nonce: 99 })),
            ready: true,
            left: 20,
        },
    );
}

#[test]
fn sori_handshake_and_publish_bytes() {
    let sori = Sori::new("", "bench");
    let mut codec = sori.codec(12, Role::Sender);
    let mut out = BytesMut::new();
    codec.handshake(&mut out);
    codec.encode_publish(b"abc", &mut out);
    let mut expected = frame(
        1,
        Message::Register(pb::Register {
            username: "benchs12".into(),
            password: sori::PASSWORD.into(),
            display_name: String::new(),
        }),
    );
    expected.extend(frame(
        2,
        Message::Login(pb::Login {
            username: "benchs12".into(),
            password: sori::PASSWORD.into(),
            token: String::new(),
        }),
    ));
    expected.extend(frame(
        16,
        Message::Chat(pb::Chat {
            room: String::new(),
            text: "abc".into(),
        }),
    ));
    assert_eq!(&out[..], &expected[..]);
}

#[test]
fn sori_refusals_are_errors() {
    for message in [
        Message::error(ErrorCode::BadCredentials, "no"),
        Message::kicked(ErrorCode::SlowConsumer, "slow"),
    ] {
        let mut codec = Sori::new("", "bench").codec(0, Role::Receiver);
        let mut buf = BytesMut::from(&frame(2, message)[..]);
        assert!(codec.parse(&mut buf, &mut Parsed::default()).is_err());
    }
}

#[test]
fn sori_chat_text_scan_matches_prost() {
    let body = &frame(0, chat_message("hi there"))[sori_protocol::HEADER_LEN..];
    assert_eq!(sori::chat_text(body), Some(&b"hi there"[..]));
    assert_eq!(sori::chat_text(&body[..body.len() - 1]), None);
}

fn spec(receiver_addrs: &[&str]) -> TargetSpec {
    TargetSpec {
        kind: TargetKind::Sori,
        addr: "127.0.0.1:5252".parse().unwrap(),
        receiver_addrs: receiver_addrs.iter().map(|a| a.parse().unwrap()).collect(),
        room: String::new(),
        user_prefix: "bench".into(),
    }
}

#[test]
fn receivers_use_addr_without_receiver_addrs() {
    let spec = spec(&[]);
    let addrs = spec.receiver_addrs();
    assert_eq!(addrs, [spec.addr]);
    for conn_idx in [0, 1, 7, 9_000, u64::MAX] {
        assert_eq!(crate::engine::addr_of(addrs, conn_idx), spec.addr);
    }
}

#[test]
fn receivers_spread_round_robin_over_receiver_addrs() {
    let spec = spec(&["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"]);
    let addrs = spec.receiver_addrs();
    let ports: Vec<u16> = (0..7)
        .map(|i| crate::engine::addr_of(addrs, i).port())
        .collect();
    assert_eq!(ports, [7001, 7002, 7003, 7001, 7002, 7003, 7001]);
    // A worker's share starts at its first connection number, so the
    // spread continues across processes: 9,000 is 0 mod 3.
    assert_eq!(crate::engine::addr_of(addrs, 9_000).port(), 7001);
    assert_eq!(crate::engine::addr_of(addrs, 9_001).port(), 7002);
}

#[test]
fn spec_json_for_workers() {
    // Without receiver addresses the line a worker gets is what it was
    // before the field existed, and such a line still parses.
    let plain = spec(&[]);
    let json = serde_json::to_string(&plain).unwrap();
    assert!(!json.contains("receiver_addrs"), "{json}");
    assert_eq!(serde_json::from_str::<TargetSpec>(&json).unwrap(), plain);
    let spread = spec(&["127.0.0.1:7001", "127.0.0.2:7002"]);
    let json = serde_json::to_string(&spread).unwrap();
    assert_eq!(serde_json::from_str::<TargetSpec>(&json).unwrap(), spread);
}

/// What each target writes when a session logs out, and whether it then
/// waits for the server to close.
#[test]
fn goodbye_bytes() {
    let mut out = BytesMut::new();
    let mut sori = Sori::new("", "bench").codec(3, Role::Receiver);
    assert!(sori.goodbye(&mut out));
    assert_eq!(&out[..], &frame(3, Message::Logout(pb::Logout {}))[..]);

    out.clear();
    let mut redis = Redis::new("").codec(0, Role::Receiver);
    assert!(redis.goodbye(&mut out));
    assert_eq!(&out[..], &b"*1\r\n$4\r\nQUIT\r\n"[..]);

    out.clear();
    let mut nats = Nats::new("").codec(0, Role::Receiver);
    assert!(!nats.goodbye(&mut out));
    assert!(out.is_empty());
}
