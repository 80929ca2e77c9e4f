use super::*;

#[test]
fn widths_count_wide_characters_twice() {
    assert_eq!(width("abc"), 3);
    assert_eq!(width("안녕하세요"), 10);
    assert_eq!(width("漢字"), 4);
    assert_eq!(width("hi 👋"), 5);
}

#[test]
fn truncate_never_splits_a_wide_character() {
    assert_eq!(truncate("안녕하세요", 10), "안녕하세요");
    // 5 columns: two syllables (4) and the ellipsis (1).
    assert_eq!(truncate("안녕하세요", 5), "안녕…");
    // 6 columns: two syllables fit, the third would end at column 7.
    assert_eq!(truncate("안녕하세요", 6), "안녕…");
    assert_eq!(width(&truncate("안녕하세요", 6)), 5);
    assert_eq!(truncate("abc", 0), "");
}

#[test]
fn pad_fills_to_the_exact_width() {
    assert_eq!(pad("한", 4), "한  ");
    assert_eq!(width(&pad("안녕하세요", 7)), 7);
}

#[test]
fn wrap_breaks_at_spaces() {
    assert_eq!(
        wrap("the quick brown fox", 10, 10),
        ["the quick", "brown fox"]
    );
}

#[test]
fn wrap_breaks_cjk_between_characters_by_width() {
    let lines = wrap("가나다라마바사아자차", 7, 7);
    assert_eq!(lines, ["가나다", "라마바", "사아자", "차"]);
    for line in &lines {
        assert!(width(line) <= 7);
    }
}

#[test]
fn wrap_uses_a_narrower_width_after_the_first_line() {
    let lines = wrap("aaaa bbbb cccc dddd", 14, 9);
    assert_eq!(lines, ["aaaa bbbb cccc", "dddd"]);
    let lines = wrap("aaaa bbbb cccc dddd eeee", 14, 9);
    assert_eq!(lines, ["aaaa bbbb cccc", "dddd eeee"]);
    let lines = wrap("aaaaaaaaaaaa", 5, 3);
    assert_eq!(lines, ["aaaaa", "aaa", "aaa", "a"]);
}

#[test]
fn wrap_keeps_emoji_whole_and_neutralises_controls() {
    let lines = wrap("👍👍👍", 5, 5);
    assert_eq!(lines, ["👍👍", "👍"]);
    assert_eq!(wrap("a\tb\x1b[2Jc", 20, 20), ["a b [2Jc"]);
    assert_eq!(wrap("one\ntwo", 20, 20), ["one", "two"]);
}
