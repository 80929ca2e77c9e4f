use super::{
    RuleError, validate_display_name, validate_password, validate_room_name, validate_topic,
    validate_username,
};

/// Runs `rule` on every case and checks it accepts exactly the `true` ones.
fn check(rule: fn(&str) -> Result<(), RuleError>, cases: &[(&str, bool)]) {
    for &(input, want_ok) in cases {
        let res = rule(input);
        assert_eq!(res.is_ok(), want_ok, "input {input:?} gave {res:?}");
    }
}

#[test]
fn usernames() {
    check(
        validate_username,
        &[
            ("abc", true),
            ("Alice", true),
            ("bob_42", true),
            ("a_", false),
            ("a__", true),
            ("abcdefghij0123456789", true),
            ("abcdefghij0123456789x", false),
            ("", false),
            ("ab", false),
            ("1abc", false),
            ("_abc", false),
            ("ab c", false),
            (" abc", false),
            ("abc-d", false),
            ("abc.d", false),
            ("Robert'); DROP TABLE accounts;--", false),
            ("al'ice", false),
            ("김철수", false),
            ("abc\0", false),
            ("abc\n", false),
            ("ａｂｃ", false), // fullwidth letters
            ("àbc", false),
        ],
    );
}

#[test]
fn passwords() {
    let max_ascii = "a".repeat(128);
    let too_long_ascii = "a".repeat(129);
    let korean_8 = "비밀번호비밀번호"; // 8 chars, 24 bytes
    let korean_too_long = "가".repeat(43); // 129 bytes
    check(
        validate_password,
        &[
            ("password", true),
            ("correct horse battery staple", true),
            ("1234567", false),
            ("", false),
            ("비밀번호", false), // 4 chars, though 12 bytes
            (korean_8, true),
            (&max_ascii, true),
            (&too_long_ascii, false),
            (&korean_too_long, false),
            ("Robert'); DROP TABLE accounts;--", true),
        ],
    );
}

#[test]
fn display_names() {
    let max = "가".repeat(24);
    let too_long = "가".repeat(25);
    check(
        validate_display_name,
        &[
            ("a", true),
            ("Alice", true),
            ("김철수", true),
            ("김 철수", true),
            ("홍길동 Hong", true),
            ("Ünïcode Ålice", true),
            ("Иван", true),
            ("山田太郎", true),
            ("j.r.r. tolkien", true),
            ("a-b_c.d", true),
            ("R2 D2", true),
            (&max, true),
            (&too_long, false),
            ("", false),
            (" Alice", false),
            ("Alice ", false),
            (" ", false),
            ("Al  ice", false),
            ("Al\tice", false),
            ("Al\nice", false),
            ("Al\u{7}ice", false),
            ("Al\u{200d}ice", false), // zero-width joiner
            ("Al\u{202e}ice", false), // right-to-left override
            ("Al\u{feff}ice", false), // byte order mark
            ("Robert'); DROP TABLE accounts;--", false),
            ("<script>", false),
            ("alice@example", false),
            ("😀", false),
        ],
    );
}

#[test]
fn room_names() {
    // The server's limit is configurable; the tests use 10.
    let max = "가".repeat(10);
    let too_long = "가".repeat(11);
    check(
        |s| validate_room_name(s, 10),
        &[
            ("a", true),
            ("rust", true),
            ("Rust", true),
            ("#rust", true),
            ("rust-lang", true),
            ("v1.0_beta", true),
            ("러스트", true),
            ("Иван", true),
            ("山田", true),
            ("#한국#", true),
            ("0123456789", true),
            (&max, true),
            (&too_long, false),
            ("", false),
            (" ", false),
            ("rust lang", false),
            (" rust", false),
            ("rust ", false),
            ("rust\t", false),
            ("rust\n", false),
            ("ru\u{200b}st", false), // zero-width space
            ("ru\u{202e}st", false), // right-to-left override
            ("rust!", false),
            ("rust/lang", false),
            ("@rust", false),
            ("'; DROP TABLE rooms;--", false),
            ("😀", false),
        ],
    );
    assert!(validate_room_name("a", 1).is_ok());
    assert!(validate_room_name("ab", 1).is_err());
    assert!(validate_room_name("a", 0).is_err());
}

#[test]
fn topics() {
    // The server's limit is configurable; the tests use 32.
    let max = "가".repeat(32);
    let too_long = "가".repeat(33);
    check(
        |s| validate_topic(s, 32),
        &[
            ("", true),
            (" ", true),
            ("Rust chat", true),
            ("  leading and trailing ", true),
            ("러스트 이야기 😀", true),
            ("<b>not html</b> & 'quotes'", true),
            (&max, true),
            (&too_long, false),
            ("two\nlines", false),
            ("two\r\nlines", false),
            ("tab\there", false),
            ("bell\u{7}", false),
            ("nul\0", false),
            ("del\u{7f}", false),
            ("c1\u{85}", false),          // next line, a C1 control
            ("soft\u{ad}hyphen", false),  // format
            ("zero\u{200b}width", false), // zero-width space
            ("zw\u{200d}joiner", false),  // zero-width joiner
            ("rtl\u{202e}override", false),
            ("isolate\u{2066}", false),
            ("line\u{2028}separator", false),
            ("para\u{2029}separator", false),
            ("bom\u{feff}", false),
            ("tag\u{e0041}", false),
        ],
    );
    assert!(validate_topic("", 0).is_ok());
    assert!(validate_topic("a", 0).is_err());
}

#[test]
fn messages_explain_the_rule() {
    assert_eq!(
        validate_username("1x").unwrap_err().to_string(),
        "username must be 3 to 20 characters: letters, digits and '_', starting with a letter"
    );
    assert_eq!(
        validate_password("short").unwrap_err().to_string(),
        "password must be at least 8 characters"
    );
    assert_eq!(
        validate_display_name("Al  ice").unwrap_err().to_string(),
        "display name must not contain two spaces in a row"
    );
    assert_eq!(
        validate_display_name(" x").unwrap_err().to_string(),
        "display name must not start or end with a space"
    );
    assert_eq!(
        validate_room_name("", 32).unwrap_err(),
        RuleError::InvalidRoomName("room name must not be empty")
    );
    assert_eq!(
        validate_room_name("abc", 2).unwrap_err().to_string(),
        "room name is too long"
    );
    assert_eq!(
        validate_room_name("a b", 32).unwrap_err().to_string(),
        "room name may contain only letters, digits, '_', '-', '.' and '#', and no spaces"
    );
    assert_eq!(
        validate_topic("abc", 2).unwrap_err(),
        RuleError::InvalidTopic("topic is too long")
    );
    assert_eq!(
        validate_topic("a\nb", 32).unwrap_err().to_string(),
        "topic must be one line with no control or invisible formatting characters"
    );
}
