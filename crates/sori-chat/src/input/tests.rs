use super::*;

fn typed(text: &str) -> Input {
    let mut input = Input::default();
    for c in text.chars() {
        input.insert(c);
    }
    input
}

#[test]
fn editing_moves_by_characters_and_measures_by_width() {
    let mut input = typed("안녕 hi");
    assert_eq!(input.cursor_column(), 7);
    input.left();
    input.left();
    input.left();
    assert_eq!(input.cursor_column(), 4);
    input.backspace();
    assert_eq!(input.text(), "안 hi");
    input.delete_word();
    assert_eq!(input.text(), " hi");
    input.end();
    input.insert('!');
    assert_eq!(input.text(), " hi!");
}

#[test]
fn history_browses_and_restores_the_draft() {
    let mut input = typed("first");
    input.submit();
    input.set("second");
    input.submit();
    input.set("draft");
    input.history_up();
    assert_eq!(input.text(), "second");
    input.history_up();
    assert_eq!(input.text(), "first");
    input.history_up();
    assert_eq!(input.text(), "first");
    input.history_down();
    assert_eq!(input.text(), "second");
    input.history_down();
    assert_eq!(input.text(), "draft");
}

#[test]
fn tab_completes_and_cycles() {
    let names = |_: usize, word: &str| {
        ["amy", "anna", "bo"]
            .into_iter()
            .filter(|name| name.starts_with(word))
            .map(String::from)
            .collect()
    };
    let mut input = typed("/w a");
    input.complete(names);
    assert_eq!(input.text(), "/w amy ");
    input.complete(names);
    assert_eq!(input.text(), "/w anna ");
    input.complete(names);
    assert_eq!(input.text(), "/w amy ");
    input.insert('x');
    assert_eq!(input.text(), "/w amy x");
}
