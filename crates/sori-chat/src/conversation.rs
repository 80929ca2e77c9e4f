//! [`Conversation`]: one entry of the sidebar (a room, or whispers with a
//! user) and what it shows, found by its [`ConvKey`].

use sori_protocol::pb;

use crate::timeline::Timeline;
use crate::unread::Unread;

/// Which conversation: a room (by its name, lowercased, as the server
/// compares them) or whispers with a user (by username, lowercased).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConvKey {
    /// A room; `""` is the lobby.
    Room(String),
    /// Whispers with a user.
    Whisper(String),
}

/// One entry of the sidebar, and what it shows.
#[derive(Debug, Clone)]
pub struct Conversation {
    /// Its key.
    pub key: ConvKey,
    /// The room's name as the server spells it, or the other user's
    /// username.
    pub name: String,
    /// For whispers: the other user's display name.
    pub display_name: String,
    /// The room's topic.
    pub topic: String,
    /// The lines.
    pub timeline: Timeline,
    /// Unread and mention counts.
    pub unread: Unread,
    /// The read marker goes above this entry while the conversation is in
    /// view: it got messages while the user looked elsewhere.
    pub marker: Option<u64>,
    /// The members, once asked for.
    pub members: Option<Vec<pb::Member>>,
    /// Older history exists on the server.
    pub has_more: bool,
    /// A history page has been asked for.
    pub loading: bool,
    /// How many lines the view is scrolled up from the newest.
    pub scroll: usize,
}

impl Conversation {
    /// An empty conversation: no lines, no members known, nothing unread.
    pub(crate) fn new(key: ConvKey, name: &str) -> Self {
        Conversation {
            key,
            name: name.to_owned(),
            display_name: name.to_owned(),
            topic: String::new(),
            timeline: Timeline::default(),
            unread: Unread::default(),
            marker: None,
            members: None,
            has_more: false,
            loading: false,
            scroll: 0,
        }
    }

    /// The name shown in the sidebar and the title.
    pub fn label(&self) -> String {
        match &self.key {
            ConvKey::Room(key) if key.is_empty() => "lobby".into(),
            ConvKey::Room(_) => format!("#{}", self.name),
            ConvKey::Whisper(_) => format!("@{}", self.display_name),
        }
    }

    /// The room's name, for requests; `None` for whispers.
    pub fn room(&self) -> Option<&str> {
        matches!(self.key, ConvKey::Room(_)).then_some(self.name.as_str())
    }
}

/// The key of a room, from its name.
pub fn room_key(name: &str) -> ConvKey {
    ConvKey::Room(name.to_lowercase())
}

/// The key of a whisper conversation, from the other user's username.
pub fn whisper_key(username: &str) -> ConvKey {
    ConvKey::Whisper(username.to_lowercase())
}
