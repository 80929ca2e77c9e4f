use std::collections::HashSet;

use super::{NewToken, TOKEN_BYTES, TokenHash};

#[test]
fn tokens_are_long_url_safe_and_distinct() {
    let mut seen = HashSet::new();
    for _ in 0..1000 {
        let new = NewToken::generate().expect("the OS RNG works");
        // 32 bytes of unpadded base64: 43 characters.
        assert_eq!(new.token.len(), (TOKEN_BYTES * 8).div_ceil(6));
        assert!(
            new.token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{:?} is not base64url",
            new.token
        );
        assert_eq!(new.hash, TokenHash::of(&new.token));
        assert!(seen.insert(new.token), "a token came out twice");
    }
}

#[test]
fn the_hash_is_sha256_of_the_text() {
    // FIPS 180-2's "abc" test vector.
    assert_eq!(
        TokenHash::of("abc").to_hex(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_ne!(TokenHash::of("abc"), TokenHash::of("abd"));
}

#[test]
fn debug_never_shows_the_token() {
    let new = NewToken::generate().expect("the OS RNG works");
    let shown = format!("{new:?}");
    assert!(!shown.contains(&new.token), "{shown}");
    assert!(
        !shown.contains(&new.hash.to_hex()),
        "the whole hash: {shown}"
    );
}
