//! Every malformed frame class gets the answer docs/protocol.md gives it, and
//! none of them disturbs the server or other sessions.

use std::time::Duration;

use sori_protocol::pb::{self, ErrorCode};
use sori_protocol::{Frame, HEADER_LEN, MAGIC, Message, PROTOCOL_VERSION, encode_to_bytes};

use crate::support::{self, read_raw};

/// A header with the given fields.
fn header(magic: u8, version: u8, msg_type: u16, request_id: u32, body_len: u32) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN);
    bytes.push(magic);
    bytes.push(version);
    bytes.extend_from_slice(&msg_type.to_le_bytes());
    bytes.extend_from_slice(&request_id.to_le_bytes());
    bytes.extend_from_slice(&body_len.to_le_bytes());
    bytes
}

/// What the server must do with a malformed input.
enum Answer {
    /// Kicked with this code, then the connection closes.
    Closes(ErrorCode),
    /// Error with this code echoing the request id; the connection stays usable.
    Refuses(ErrorCode, u32),
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    /// Close our sending side after writing (a stream that ends mid-frame).
    end_stream: bool,
    answer: Answer,
}

async fn check(case: Case) {
    let server = support::start(support::config()).await;
    let (bystander, mut bystander_events) = server.user("bystander").await;
    let mut conn = server.raw().await;
    conn.write_bytes(&case.bytes).await.unwrap();
    if case.end_stream {
        conn.shutdown_write().await.unwrap();
    }
    let frame = read_raw(&mut conn).await;
    match case.answer {
        Answer::Closes(code) => {
            match frame {
                Some(Frame {
                    request_id: 0,
                    message: Message::Kicked(kicked),
                }) => assert_eq!(kicked.code(), code, "{}", case.name),
                other => panic!("{}: expected Kicked {code:?}, got {other:?}", case.name),
            }
            assert_eq!(
                read_raw(&mut conn).await,
                None,
                "{}: connection closes",
                case.name
            );
        }
        Answer::Refuses(code, request_id) => {
            match frame {
                Some(Frame {
                    request_id: got_id,
                    message: Message::Error(err),
                }) => {
                    assert_eq!(err.code(), code, "{}", case.name);
                    assert_eq!(got_id, request_id, "{}: request id echoed", case.name);
                    assert!(
                        !err.message.is_empty(),
                        "{}: a human-readable message",
                        case.name
                    );
                }
                other => panic!("{}: expected Error {code:?}, got {other:?}", case.name),
            }
            // Still in step: the next request is answered.
            conn.write_frame(77, &Message::Ping(pb::Ping { nonce: 5 }))
                .await
                .unwrap();
            let pong = read_raw(&mut conn).await;
            assert_eq!(
                pong,
                Some(Frame {
                    request_id: 77,
                    message: Message::Pong(pb::Pong { nonce: 5 })
                }),
                "{}: connection still usable",
                case.name
            );
        }
    }
    // Nobody else noticed.
    bystander.ping().await.unwrap();
    assert_eq!(bystander_events.try_next(), None, "{}", case.name);
    assert!(
        server.metrics.bad_frames.get() >= 1,
        "{}: counted",
        case.name
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn bad_magic_closes_the_connection() {
    check(Case {
        name: "bad magic",
        bytes: b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        end_stream: false,
        answer: Answer::Closes(ErrorCode::BadMagic),
    })
    .await;
}

#[tokio::test]
async fn bad_version_closes_the_connection() {
    check(Case {
        name: "bad version",
        bytes: header(MAGIC, 9, 50, 1, 0),
        end_stream: false,
        answer: Answer::Closes(ErrorCode::UnsupportedVersion),
    })
    .await;
}

#[tokio::test]
async fn oversize_length_closes_before_the_body_arrives() {
    // Only the header is sent: the refusal cannot depend on the body.
    check(Case {
        name: "oversize length",
        bytes: header(MAGIC, PROTOCOL_VERSION, 20, 1, 16 * 1024 + 1),
        end_stream: false,
        answer: Answer::Closes(ErrorCode::FrameTooLarge),
    })
    .await;
    check(Case {
        name: "4 GiB length",
        bytes: header(MAGIC, PROTOCOL_VERSION, 20, 1, u32::MAX),
        end_stream: false,
        answer: Answer::Closes(ErrorCode::FrameTooLarge),
    })
    .await;
}

#[tokio::test]
async fn unknown_type_is_answered_and_skipped() {
    let mut bytes = header(MAGIC, PROTOCOL_VERSION, 999, 42, 3);
    bytes.extend_from_slice(&[1, 2, 3]);
    check(Case {
        name: "unknown type",
        bytes,
        end_stream: false,
        answer: Answer::Refuses(ErrorCode::UnknownType, 42),
    })
    .await;
}

#[tokio::test]
async fn garbage_protobuf_is_answered_and_skipped() {
    let mut bytes = header(MAGIC, PROTOCOL_VERSION, 11, 43, 3);
    bytes.extend_from_slice(&[0xff, 0xff, 0xff]);
    check(Case {
        name: "garbage protobuf",
        bytes,
        end_stream: false,
        answer: Answer::Refuses(ErrorCode::MalformedBody, 43),
    })
    .await;
}

#[tokio::test]
async fn invalid_utf8_in_a_string_field_is_a_malformed_body() {
    // Login { username: <0xff 0xfe> }: field 1, wire type 2, length 2.
    let body = [0x0a, 0x02, 0xff, 0xfe];
    let mut bytes = header(MAGIC, PROTOCOL_VERSION, 11, 44, body.len() as u32);
    bytes.extend_from_slice(&body);
    check(Case {
        name: "invalid utf-8",
        bytes,
        end_stream: false,
        answer: Answer::Refuses(ErrorCode::MalformedBody, 44),
    })
    .await;
}

#[tokio::test]
async fn a_server_only_type_from_a_client_is_refused() {
    let bytes = encode_to_bytes(45, &Message::Welcome(pb::Welcome::default())).to_vec();
    check(Case {
        name: "server-only type",
        bytes,
        end_stream: false,
        answer: Answer::Refuses(ErrorCode::UnexpectedMessage, 45),
    })
    .await;
}

#[tokio::test]
async fn a_stream_ending_inside_a_body_is_truncated() {
    let mut bytes = header(MAGIC, PROTOCOL_VERSION, 50, 1, 10);
    bytes.extend_from_slice(&[0x08, 0x01]);
    check(Case {
        name: "truncated body",
        bytes,
        end_stream: true,
        answer: Answer::Closes(ErrorCode::TruncatedFrame),
    })
    .await;
}

#[tokio::test]
async fn a_stream_ending_inside_a_header_is_truncated() {
    check(Case {
        name: "truncated header",
        bytes: vec![MAGIC, PROTOCOL_VERSION, 50],
        end_stream: true,
        answer: Answer::Closes(ErrorCode::TruncatedFrame),
    })
    .await;
}

#[tokio::test]
async fn a_frame_split_byte_by_byte_is_reassembled() {
    let server = support::start(support::config()).await;
    let mut conn = server.raw().await;
    let frame = encode_to_bytes(9, &Message::Ping(pb::Ping { nonce: 3 }));
    for byte in frame.iter() {
        conn.write_bytes(&[*byte]).await.unwrap();
        tokio::task::yield_now().await;
    }
    assert_eq!(
        read_raw(&mut conn).await,
        Some(Frame {
            request_id: 9,
            message: Message::Pong(pb::Pong { nonce: 3 })
        })
    );
    server.stop().await.unwrap();
}

/// Regression: the server reads at most a bounded number of times per wake
/// (fairness), and once left the bytes of its last read in its buffer
/// unanswered until the client wrote again, which a client waiting for
/// its answers never does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_many_reads_is_answered_in_full() {
    // 16-byte Pings (a 3-byte varint nonce) tile the server's 4 KiB reads
    // exactly, so a burst of 17 reads ends right after the read the cap
    // used to strand. Bursts of 16 to 20 reads, on several connections, so
    // that however the kernel splits the bytes some burst ends there.
    const PER_READ: usize = 4096 / 16;
    let server = support::start(support::config()).await;
    for reads in 16..=20 {
        for _ in 0..4 {
            let mut conn = server.raw().await;
            let n = reads * PER_READ;
            let mut burst = Vec::with_capacity(n * 16);
            for i in 0..n {
                let nonce = 20_000 + i as u64;
                let frame = encode_to_bytes(1, &Message::Ping(pb::Ping { nonce }));
                assert_eq!(frame.len(), 16);
                burst.extend_from_slice(&frame);
            }
            conn.write_bytes(&burst).await.unwrap();
            for i in 0..n {
                let frame = tokio::time::timeout(Duration::from_secs(5), conn.read_frame())
                    .await
                    .unwrap_or_else(|_| panic!("pong {i} of {n} never came"))
                    .unwrap();
                let nonce = 20_000 + i as u64;
                assert_eq!(
                    frame.map(|f| f.message),
                    Some(Message::Pong(pb::Pong { nonce }))
                );
            }
        }
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_body_exactly_at_the_limit_is_accepted() {
    let config = sori_server::Config {
        max_frame_len: 64,
        ..support::config()
    };
    let server = support::start(config).await;
    let mut conn = server.raw().await;
    // An unknown-type frame whose body is exactly 64 bytes: refused by type,
    // not by length.
    let mut bytes = header(MAGIC, PROTOCOL_VERSION, 998, 8, 64);
    bytes.extend_from_slice(&[0u8; 64]);
    conn.write_bytes(&bytes).await.unwrap();
    match read_raw(&mut conn).await {
        Some(Frame {
            message: Message::Error(err),
            ..
        }) => assert_eq!(err.code(), ErrorCode::UnknownType),
        other => panic!("expected UnknownType, got {other:?}"),
    }
    conn.write_bytes(&header(MAGIC, PROTOCOL_VERSION, 998, 9, 65))
        .await
        .unwrap();
    assert_eq!(
        crate::support::read_raw_kicked(&mut conn).await,
        ErrorCode::FrameTooLarge
    );
    server.stop().await.unwrap();
}
