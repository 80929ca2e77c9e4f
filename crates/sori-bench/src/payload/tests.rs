use super::*;

#[test]
fn round_trip_is_exact_and_padded() {
    let mut buf = Vec::new();
    let stamp = Stamp {
        sent_ns: 0x0123_4567_89ab_cdef,
        number: 42,
    };
    write(&mut buf, DEFAULT_LEN, stamp);
    assert_eq!(buf.len(), 64);
    assert_eq!(
        &buf[..],
        &b"sb0123456789abcdef000000000000002a.............................."[..]
    );
    assert!(std::str::from_utf8(&buf).is_ok());
    assert_eq!(read(&buf), Some(stamp));
}

#[test]
fn extremes_and_minimum_size() {
    let mut buf = Vec::new();
    let stamp = Stamp {
        sent_ns: u64::MAX,
        number: 0,
    };
    write(&mut buf, 1, stamp);
    assert_eq!(buf.len(), MIN_LEN);
    assert_eq!(read(&buf), Some(stamp));
}

#[test]
fn foreign_text_is_not_a_stamp() {
    for text in [
        &b"hello"[..],
        b"sbXYZ3456789abcdef000000000000002a",
        b"xx0123456789abcdef000000000000002a",
    ] {
        assert_eq!(read(text), None, "{:?}", String::from_utf8_lossy(text));
    }
}
