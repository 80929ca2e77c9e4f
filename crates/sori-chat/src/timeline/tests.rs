use super::*;

fn chat(seq: u64, text: &str) -> NewChat {
    NewChat {
        seq: Some(seq),
        timestamp_ms: seq as i64 * 1000,
        username: "amy".into(),
        display_name: "Amy".into(),
        text: text.into(),
        own: false,
        mention: false,
    }
}

fn texts(timeline: &Timeline) -> Vec<String> {
    timeline
        .entries()
        .iter()
        .map(|entry| match &entry.kind {
            EntryKind::Chat { text, .. } => text.clone(),
            EntryKind::Presence { joined, left } => format!("+{joined:?} -{left:?}"),
            EntryKind::Notice(text) => format!("! {text}"),
        })
        .collect()
}

#[test]
fn duplicates_are_dropped_and_late_messages_take_their_place() {
    let mut timeline = Timeline::default();
    assert!(timeline.add_chat(chat(1, "one")).is_some());
    assert!(timeline.add_chat(chat(3, "three")).is_some());
    // The ack of the user's own message 2 arrives after the push of 3.
    assert!(timeline.add_chat(chat(2, "two")).is_some());
    assert!(timeline.add_chat(chat(3, "three again")).is_none());
    assert_eq!(texts(&timeline), ["one", "two", "three"]);
    assert_eq!(timeline.oldest_seq(), Some(1));
}

#[test]
fn older_pages_go_first() {
    let mut timeline = Timeline::default();
    timeline.add_chat(chat(5, "five"));
    timeline.prepend(vec![chat(3, "three"), chat(4, "four"), chat(5, "dup")]);
    assert_eq!(texts(&timeline), ["three", "four", "five"]);
}

#[test]
fn presence_is_condensed_until_something_else_happens() {
    let mut timeline = Timeline::default();
    timeline.presence(0, "Amy", true);
    timeline.presence(0, "Bo", true);
    timeline.presence(0, "Cy", false);
    timeline.add_chat(chat(1, "hi"));
    timeline.presence(0, "Bo", false);
    assert_eq!(
        texts(&timeline),
        [r#"+["Amy", "Bo"] -["Cy"]"#, "hi", r#"+[] -["Bo"]"#]
    );
}
