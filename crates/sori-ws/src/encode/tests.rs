use bytes::BytesMut;

use super::{close, frame, header, ping, pong};
use crate::decode::Event;
use crate::frame::Opcode;

#[test]
fn header_lengths() {
    let check = |opcode, fin, len, expected: &[u8]| {
        assert_eq!(header(opcode, fin, len).as_bytes(), expected, "len {len}");
    };
    check(Opcode::Text, true, 0, &[0x81, 0]);
    check(Opcode::Binary, true, 125, &[0x82, 125]);
    check(Opcode::Binary, true, 126, &[0x82, 126, 0, 126]);
    check(Opcode::Text, false, 0xFFFF, &[0x01, 126, 0xFF, 0xFF]);
    check(
        Opcode::Continuation,
        true,
        0x1_0000,
        &[0x80, 127, 0, 0, 0, 0, 0, 1, 0, 0],
    );
    check(Opcode::Ping, true, 3, &[0x89, 3]);
    check(Opcode::Pong, true, 3, &[0x8A, 3]);
    check(Opcode::Close, true, 2, &[0x88, 2]);
}

#[test]
fn whole_frames() {
    assert_eq!(&frame(Opcode::Text, b"hi")[..], &[0x81, 2, b'h', b'i']);
    assert_eq!(&ping(b"p")[..], &[0x89, 1, b'p']);
    assert_eq!(&pong(b"")[..], &[0x8A, 0]);
    assert_eq!(&close(1000, "")[..], &[0x88, 2, 0x03, 0xE8]);
    assert_eq!(&close(1002, "x")[..], &[0x88, 3, 0x03, 0xEA, b'x']);
}

#[test]
fn control_payloads_are_truncated_to_fit() {
    let long = [7u8; 200];
    assert_eq!(pong(&long).len(), 2 + 125);
    assert_eq!(ping(&long).len(), 2 + 125);
    // 62 two-byte characters: 124 bytes, cut back to 122 at a boundary.
    let reason = "é".repeat(62);
    let encoded = close(1000, &reason);
    assert_eq!(encoded.len(), 2 + 2 + 122);
    assert!(std::str::from_utf8(&encoded[4..]).is_ok());
}

/// Server frames round-trip through the decoder once masked like a client's.
#[test]
fn round_trip_through_the_decoder() {
    let payload = vec![0xAB; 70_000];
    let mut wire = header(Opcode::Binary, true, payload.len())
        .as_bytes()
        .to_vec();
    wire.extend_from_slice(&payload);
    // Set the mask bit and insert an all-zero key after the length.
    wire[1] |= 0x80;
    for _ in 0..4 {
        wire.insert(10, 0);
    }
    let mut decoder = crate::decode::Decoder::new(1 << 20);
    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Ok(Some(Event::Binary(payload.into())))
    );
}
