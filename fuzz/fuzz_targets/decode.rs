//! The frame decoder on arbitrary bytes: one frame at several limits, and a
//! stream of frames read from one buffer the way the server's connection
//! reads them. Decoding must never panic, and what it reports must be
//! consistent: lengths within the input and the limit, a frame that
//! re-encodes to one that decodes the same, "incomplete" only for a prefix.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sori_protocol::{DEFAULT_MAX_BODY_LEN, DecodeError, HEADER_LEN, decode, encode_to_bytes};

fuzz_target!(|data: &[u8]| {
    for max_body_len in [0, 16, DEFAULT_MAX_BODY_LEN, u32::MAX] {
        check_one(data, max_body_len);
    }
    check_stream(data, DEFAULT_MAX_BODY_LEN);
});

/// One decode of the start of `data`, and what follows from its answer.
fn check_one(data: &[u8], max_body_len: u32) {
    match decode(data, max_body_len) {
        Ok((frame, used)) => {
            assert!(
                used >= HEADER_LEN && used <= data.len(),
                "used {used} of {}",
                data.len()
            );
            assert!((used - HEADER_LEN) as u64 <= u64::from(max_body_len));
            // Exactly the frame decodes the same; one byte less is incomplete.
            assert_eq!(
                decode(&data[..used], max_body_len),
                Ok((frame.clone(), used))
            );
            assert_eq!(
                decode(&data[..used - 1], max_body_len),
                Err(DecodeError::Incomplete)
            );
            // A decoded frame re-encodes into a frame that decodes the same.
            let bytes = encode_to_bytes(frame.request_id, &frame.message);
            if bytes.len() - HEADER_LEN <= max_body_len as usize {
                let (again, again_used) =
                    decode(&bytes, max_body_len).expect("re-encoded frame decodes");
                assert_eq!(again, frame);
                assert_eq!(again_used, bytes.len());
            }
        }
        Err(err) => {
            if let Some(skip) = err.skip_len() {
                assert!(skip >= HEADER_LEN, "skip {skip}");
                assert!((skip - HEADER_LEN) as u64 <= u64::from(max_body_len));
                if matches!(err, DecodeError::MalformedBody { .. }) {
                    // The whole body was there to be found malformed.
                    assert!(skip <= data.len());
                }
            }
            if err == DecodeError::Incomplete {
                // More bytes were needed, so the input is short of a frame.
                assert!(data.len() < HEADER_LEN || data.len() < frame_len(data));
            }
            let _ = err.to_string();
        }
    }
}

/// Frames one after another from one buffer, skipping recoverable errors,
/// as `connection.rs` does; stops where the stream breaks or runs out.
fn check_stream(data: &[u8], max_body_len: u32) {
    let mut rest = data;
    let mut n_frames = 0usize;
    while !rest.is_empty() {
        match decode(rest, max_body_len) {
            Ok((_, used)) => {
                assert!(used >= HEADER_LEN && used <= rest.len());
                rest = &rest[used..];
                n_frames += 1;
            }
            Err(err) => match err.skip_len() {
                Some(skip) => {
                    assert!(skip >= HEADER_LEN);
                    // The server discards the rest of a skipped frame as it
                    // arrives; here the buffer simply ends.
                    rest = &rest[skip.min(rest.len())..];
                    n_frames += 1;
                }
                None => break,
            },
        }
    }
    // Every step consumed at least a header.
    assert!(n_frames <= data.len() / HEADER_LEN);
}

/// Header plus announced body length, read from a whole header.
fn frame_len(data: &[u8]) -> usize {
    let body_len = u32::from_le_bytes([data[8], data[9], data[10], data[11]]);
    HEADER_LEN + body_len as usize
}
