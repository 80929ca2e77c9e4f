//! Micro-benchmarks of the frame codec on the hot path of a broadcast: one
//! ChatMessage encoded, one decoded, and 256 decoded back to back from one
//! buffer (what a client does with one large read).
#![allow(missing_docs)]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sori_protocol::{DEFAULT_MAX_BODY_LEN, Message, decode, encode, encode_to_bytes, pb};

// `..Default::default()` keeps this compiling as fields are added to the
// protocol.
#[allow(clippy::needless_update)]
fn chat_message() -> Message {
    Message::ChatMessage(pb::ChatMessage {
        room: String::new(),
        seq: 123_456,
        timestamp_ms: 1_700_000_000_000,
        from: Some(pb::UserInfo {
            username: "alice".into(),
            display_name: "Alice".into(),
        }),
        // 64 bytes, as in the load benchmarks.
        text: "sb0000000123456789000000000000002a..............................".into(),
        ..Default::default()
    })
}

fn frame(c: &mut Criterion) {
    let message = chat_message();
    let bytes = encode_to_bytes(0, &message);

    let mut group = c.benchmark_group("chat_message");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode_to_bytes", |b| {
        b.iter(|| encode_to_bytes(0, black_box(&message)))
    });
    let mut buf = BytesMut::with_capacity(1024);
    group.bench_function("encode_reused_buffer", |b| {
        b.iter(|| {
            buf.clear();
            encode(0, black_box(&message), &mut buf);
        })
    });
    group.bench_function("decode", |b| {
        b.iter(|| decode(black_box(&bytes), DEFAULT_MAX_BODY_LEN).expect("valid frame"))
    });
    group.finish();

    let mut batch = BytesMut::new();
    for _ in 0..256 {
        encode(0, &message, &mut batch);
    }
    let mut group = c.benchmark_group("chat_message_batch");
    group.throughput(Throughput::Elements(256));
    group.bench_function("decode_256_from_one_buffer", |b| {
        b.iter(|| {
            let mut rest = black_box(&batch[..]);
            while !rest.is_empty() {
                let (frame, len) = decode(rest, DEFAULT_MAX_BODY_LEN).expect("valid frame");
                black_box(frame);
                rest = &rest[len..];
            }
        })
    });
    group.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);
