use super::*;

fn me(username: &str, display_name: &str) -> pb::UserInfo {
    pb::UserInfo {
        username: username.into(),
        display_name: display_name.into(),
    }
}

#[test]
fn mentions() {
    let check = |text: &str, expected: bool| {
        let me = me("al", "지수");
        assert_eq!(is_mention(text, &me), expected, "{text:?}");
    };
    check("hi al", true);
    check("@AL look", true);
    check("al: hi", true);
    check("also", false);
    check("bal", false);
    check("지수야 안녕", true);
    check("지수님", true);
    check("nobody", false);
    check("call al_x", false);
}

#[test]
fn counts_and_marker() {
    let mut unread = Unread::default();
    unread.message(1, false, true);
    assert_eq!(unread.counts(), Counts::default());
    unread.message(2, false, false);
    unread.message(3, true, false);
    assert_eq!(
        unread.counts(),
        Counts {
            unread: 2,
            mentions: 1
        }
    );
    assert_eq!(unread.viewed(), Some(2));
    assert_eq!(unread.counts(), Counts::default());
    assert_eq!(unread.viewed(), None);
}
