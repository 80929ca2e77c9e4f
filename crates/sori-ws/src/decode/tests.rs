use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;

use super::{Decoder, Event, ProtocolError, unmask};

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const MAX: usize = 1024;

/// Encodes a masked client frame, with full control over the header bits.
fn raw_frame(first_byte: u8, masked: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first_byte];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        len @ 0..=125 => out.push(mask_bit | len as u8),
        len @ 126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&MASK);
        out.extend(
            payload
                .iter()
                .enumerate()
                .map(|(idx, byte)| byte ^ MASK[idx % 4]),
        );
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// A masked client frame with the given FIN bit and opcode.
fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(if fin { 0x80 } else { 0 } | opcode, true, payload)
}

/// Decodes everything in `input` with a fresh decoder and returns the events,
/// stopping at the first error.
fn decode_all(input: &[u8]) -> Result<Vec<Event>, ProtocolError> {
    let mut decoder = Decoder::new(MAX);
    let mut buf = BytesMut::from(input);
    let mut events = Vec::new();
    while let Some(event) = decoder.decode(&mut buf)? {
        events.push(event);
    }
    Ok(events)
}

/// The data-driven check: `input` decodes to `expected`.
fn check(input: &[u8], expected: Result<Vec<Event>, ProtocolError>) {
    assert_eq!(decode_all(input), expected);
}

fn text(s: &str) -> Event {
    Event::Text(Bytes::copy_from_slice(s.as_bytes()))
}

fn binary(bytes: &[u8]) -> Event {
    Event::Binary(Bytes::copy_from_slice(bytes))
}

fn concat(frames: &[Vec<u8>]) -> Vec<u8> {
    frames.concat()
}

#[test]
fn unmask_matches_bytewise_xor() {
    for len in 0..40 {
        let original: Vec<u8> = (0..len as u8).collect();
        let mut payload = original.clone();
        unmask(&mut payload, MASK);
        let expected: Vec<u8> = original
            .iter()
            .enumerate()
            .map(|(idx, byte)| byte ^ MASK[idx % 4])
            .collect();
        assert_eq!(payload, expected, "len {len}");
    }
}

#[test]
fn single_frames() {
    check(&client_frame(true, 1, b"hello"), Ok(vec![text("hello")]));
    check(
        &client_frame(true, 2, &[0, 1, 2, 255]),
        Ok(vec![binary(&[0, 1, 2, 255])]),
    );
    check(&client_frame(true, 1, b""), Ok(vec![text("")]));
    check(
        &client_frame(true, 9, b"ping"),
        Ok(vec![Event::Ping(Bytes::from_static(b"ping"))]),
    );
    check(
        &client_frame(true, 10, b""),
        Ok(vec![Event::Pong(Bytes::new())]),
    );
    let medium = vec![7u8; 300];
    check(&client_frame(true, 2, &medium), Ok(vec![binary(&medium)]));
}

#[test]
fn sixty_four_bit_length() {
    let mut decoder = Decoder::new(1 << 20);
    let payload = vec![42u8; 70_000];
    let mut buf = BytesMut::from(&client_frame(true, 2, &payload)[..]);
    assert_eq!(decoder.decode(&mut buf), Ok(Some(binary(&payload))));
    assert!(buf.is_empty());
}

#[test]
fn unmasked_frames_are_rejected() {
    check(&raw_frame(0x81, false, b"hi"), Err(ProtocolError::Unmasked));
    check(&raw_frame(0x89, false, b""), Err(ProtocolError::Unmasked));
    assert_eq!(ProtocolError::Unmasked.close_code(), 1002);
}

#[test]
fn reserved_bits_and_opcodes() {
    for rsv in [0x40, 0x20, 0x10, 0x70] {
        check(
            &raw_frame(0x81 | rsv, true, b"x"),
            Err(ProtocolError::ReservedBits),
        );
    }
    for opcode in [3, 4, 5, 6, 7, 11, 12, 13, 14, 15] {
        check(
            &client_frame(true, opcode, b""),
            Err(ProtocolError::ReservedOpcode(opcode)),
        );
    }
}

#[test]
fn control_frames_must_be_final_and_short() {
    check(
        &client_frame(false, 9, b"x"),
        Err(ProtocolError::FragmentedControl),
    );
    check(
        &client_frame(false, 8, b""),
        Err(ProtocolError::FragmentedControl),
    );
    check(
        &client_frame(true, 9, &[0; 126]),
        Err(ProtocolError::ControlTooLong),
    );
    let ping = [0u8; 125];
    check(
        &client_frame(true, 9, &ping),
        Ok(vec![Event::Ping(Bytes::copy_from_slice(&ping))]),
    );
}

#[test]
fn header_errors_come_before_the_payload() {
    // Only the first two bytes of an unmasked frame: rejected at once.
    let mut decoder = Decoder::new(MAX);
    let mut buf = BytesMut::from(&raw_frame(0x81, false, b"hello")[..2]);
    assert_eq!(decoder.decode(&mut buf), Err(ProtocolError::Unmasked));
}

#[test]
fn fragmented_messages_are_reassembled() {
    let input = concat(&[
        client_frame(false, 1, b"hel"),
        client_frame(false, 0, b""),
        client_frame(false, 0, b"lo "),
        client_frame(true, 0, b"world"),
    ]);
    check(&input, Ok(vec![text("hello world")]));
    let input = concat(&[client_frame(false, 2, &[1, 2]), client_frame(true, 0, &[3])]);
    check(&input, Ok(vec![binary(&[1, 2, 3])]));
}

#[test]
fn control_frames_interleave_with_fragments() {
    let input = concat(&[
        client_frame(false, 1, b"a"),
        client_frame(true, 9, b"p1"),
        client_frame(false, 0, b"b"),
        client_frame(true, 10, b"p2"),
        client_frame(true, 0, b"c"),
    ]);
    check(
        &input,
        Ok(vec![
            Event::Ping(Bytes::from_static(b"p1")),
            Event::Pong(Bytes::from_static(b"p2")),
            text("abc"),
        ]),
    );
}

#[test]
fn fragmentation_errors() {
    check(
        &client_frame(true, 0, b"x"),
        Err(ProtocolError::UnexpectedContinuation),
    );
    check(
        &client_frame(false, 0, b"x"),
        Err(ProtocolError::UnexpectedContinuation),
    );
    let input = concat(&[client_frame(false, 1, b"a"), client_frame(true, 1, b"b")]);
    check(&input, Err(ProtocolError::UnfinishedMessage));
    let input = concat(&[client_frame(false, 2, b"a"), client_frame(false, 2, b"b")]);
    check(&input, Err(ProtocolError::UnfinishedMessage));
    // A finished message lets a new one start.
    let input = concat(&[
        client_frame(false, 1, b"a"),
        client_frame(true, 0, b"b"),
        client_frame(true, 0, b"c"),
    ]);
    check(&input, Err(ProtocolError::UnexpectedContinuation));
}

#[test]
fn oversize_by_header_is_rejected_before_buffering() {
    let mut decoder = Decoder::new(MAX);
    // Only the header of a frame announcing MAX + 1 bytes: no payload yet.
    let frame = client_frame(true, 2, &vec![0; MAX + 1]);
    let mut buf = BytesMut::from(&frame[..4]);
    assert_eq!(
        decoder.decode(&mut buf),
        Err(ProtocolError::MessageTooLong {
            len: MAX as u64 + 1,
            max: MAX
        })
    );
    // A 64-bit length far past any limit.
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&(u64::MAX >> 1).to_be_bytes());
    assert!(matches!(
        decode_all(&header),
        Err(ProtocolError::MessageTooLong { .. })
    ));
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&u64::MAX.to_be_bytes());
    check(&header, Err(ProtocolError::LengthTooLarge));
    assert_eq!(
        ProtocolError::MessageTooLong { len: 0, max: 0 }.close_code(),
        1009
    );
    // Exactly the limit is fine.
    let payload = vec![1u8; MAX];
    check(&client_frame(true, 2, &payload), Ok(vec![binary(&payload)]));
}

#[test]
fn oversize_by_total_of_fragments() {
    let half = vec![0u8; MAX / 2];
    let input = concat(&[
        client_frame(false, 2, &half),
        client_frame(false, 0, &half),
        client_frame(true, 0, b"x"),
    ]);
    check(
        &input,
        Err(ProtocolError::MessageTooLong {
            len: MAX as u64 + 1,
            max: MAX,
        }),
    );
}

#[test]
fn control_frames_do_not_count_toward_the_message_limit() {
    let input = concat(&[
        client_frame(false, 2, &vec![0; MAX - 1]),
        client_frame(true, 9, b"ping"),
        client_frame(true, 0, b"x"),
    ]);
    let mut message = vec![0; MAX - 1];
    message.push(b'x');
    check(
        &input,
        Ok(vec![
            Event::Ping(Bytes::from_static(b"ping")),
            binary(&message),
        ]),
    );
}

#[test]
fn partial_input_waits_and_reserves() {
    let frame = client_frame(true, 1, b"hello world");
    let mut decoder = Decoder::new(MAX);
    let mut buf = BytesMut::new();
    for (idx, byte) in frame.iter().enumerate() {
        buf.put_u8(*byte);
        let res = decoder.decode(&mut buf);
        if idx + 1 < frame.len() {
            assert_eq!(res, Ok(None), "after {} bytes", idx + 1);
        } else {
            assert_eq!(res, Ok(Some(text("hello world"))));
        }
    }
    // Once the header is in, room for the whole frame is reserved.
    let frame = client_frame(true, 2, &[0; 500]);
    let mut buf = BytesMut::from(&frame[..8]);
    assert_eq!(Decoder::new(MAX).decode(&mut buf), Ok(None));
    assert!(buf.capacity() >= frame.len());
}

#[test]
fn pipelined_frames_decode_one_at_a_time() {
    let input = concat(&[client_frame(true, 1, b"a"), client_frame(true, 1, b"b")]);
    let mut decoder = Decoder::new(MAX);
    let mut buf = BytesMut::from(&input[..]);
    assert_eq!(decoder.decode(&mut buf), Ok(Some(text("a"))));
    assert_eq!(decoder.decode(&mut buf), Ok(Some(text("b"))));
    assert_eq!(decoder.decode(&mut buf), Ok(None));
}

#[test]
fn invalid_utf8_in_a_single_frame() {
    check(
        &client_frame(true, 1, &[0xce, 0xba, 0xff]),
        Err(ProtocolError::InvalidUtf8),
    );
    check(
        &client_frame(true, 1, &[0xce]),
        Err(ProtocolError::InvalidUtf8),
    );
    // Surrogates are not valid UTF-8.
    check(
        &client_frame(true, 1, &[0xed, 0xa0, 0x80]),
        Err(ProtocolError::InvalidUtf8),
    );
    // Binary messages are not validated.
    check(&client_frame(true, 2, &[0xff]), Ok(vec![binary(&[0xff])]));
    assert_eq!(ProtocolError::InvalidUtf8.close_code(), 1007);
}

#[test]
fn utf8_split_across_fragments_is_fine() {
    // "κόσμε" split inside code points.
    let bytes = "κόσμε".as_bytes();
    let mut frames = vec![client_frame(false, 1, &bytes[..1])];
    for idx in 1..bytes.len() - 1 {
        frames.push(client_frame(false, 0, &bytes[idx..idx + 1]));
    }
    frames.push(client_frame(true, 0, &bytes[bytes.len() - 1..]));
    check(&concat(&frames), Ok(vec![text("κόσμε")]));
}

#[test]
fn invalid_utf8_fails_fast_on_a_fragment() {
    // The message is not over, yet the invalid fragment is rejected at once.
    let mut decoder = Decoder::new(MAX);
    let mut buf = BytesMut::from(&client_frame(false, 1, b"ok")[..]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    buf.extend_from_slice(&client_frame(false, 0, &[0xff])[..]);
    assert_eq!(decoder.decode(&mut buf), Err(ProtocolError::InvalidUtf8));
    // Also when the invalid byte ends an incomplete code point early.
    let input = concat(&[
        client_frame(false, 1, &[0xce]),
        client_frame(false, 0, &[0x41]),
    ]);
    check(&input, Err(ProtocolError::InvalidUtf8));
    // An incomplete code point at the end of the final fragment is an error.
    let input = concat(&[client_frame(false, 1, b"a"), client_frame(true, 0, &[0xce])]);
    check(&input, Err(ProtocolError::InvalidUtf8));
    // An invalid first fragment is rejected at once.
    check(
        &client_frame(false, 1, &[0xc0, 0x80]),
        Err(ProtocolError::InvalidUtf8),
    );
}

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    payload
}

#[test]
fn close_frames() {
    check(
        &client_frame(true, 8, b""),
        Ok(vec![Event::Close {
            code: None,
            reason: String::new(),
        }]),
    );
    check(
        &client_frame(true, 8, &close_payload(1000, b"bye")),
        Ok(vec![Event::Close {
            code: Some(1000),
            reason: "bye".to_owned(),
        }]),
    );
    check(
        &client_frame(true, 8, &[0x03]),
        Err(ProtocolError::CloseTooShort),
    );
    check(
        &client_frame(true, 8, &close_payload(1000, &[0xff])),
        Err(ProtocolError::InvalidCloseReason),
    );
    assert_eq!(ProtocolError::InvalidCloseReason.close_code(), 1007);
    assert_eq!(ProtocolError::CloseTooShort.close_code(), 1002);
}

#[test]
fn close_codes() {
    let valid = [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
    ];
    for code in valid {
        check(
            &client_frame(true, 8, &close_payload(code, b"")),
            Ok(vec![Event::Close {
                code: Some(code),
                reason: String::new(),
            }]),
        );
    }
    let invalid = [
        0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999,
    ];
    for code in invalid.into_iter().chain([5000, 65535]) {
        check(
            &client_frame(true, 8, &close_payload(code, b"")),
            Err(ProtocolError::InvalidCloseCode(code)),
        );
        assert_eq!(ProtocolError::InvalidCloseCode(code).close_code(), 1002);
    }
}

#[test]
fn random_bytes_never_panic() {
    // A deterministic xorshift stream, so failures reproduce.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let len = (next() % 64) as usize;
        let input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let _ = decode_all(&input);
    }
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics(input in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_all(&input);
    }

    #[test]
    fn arbitrary_chunking_gives_the_same_events(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..6),
        chunk in 1usize..50,
    ) {
        let input: Vec<u8> = payloads.iter().flat_map(|payload| client_frame(true, 2, payload)).collect();
        let expected: Vec<Event> = payloads.iter().map(|payload| binary(payload)).collect();
        let mut decoder = Decoder::new(MAX);
        let mut buf = BytesMut::new();
        let mut events = Vec::new();
        for piece in input.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(event) = decoder.decode(&mut buf).expect("valid input") {
                events.push(event);
            }
        }
        prop_assert_eq!(events, expected);
    }
}
