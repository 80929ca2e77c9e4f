//! One conversation's lines: chat messages in sequence order with no
//! duplicate, condensed join and leave lines, and notices.
//!
//! A room's messages can reach the client by several paths: pushes, the
//! ack of the user's own message, the history of a join or a resume, and
//! pages of older history. They are keyed by sequence number, so a message
//! that comes twice is kept once, and one that comes late (an ack can
//! arrive after pushes of later messages) is put in its place.

use std::collections::HashSet;

/// A conversation's entries, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    entries: Vec<Entry>,
    /// The sequence numbers of the chat entries, to drop duplicates.
    seqs: HashSet<u64>,
    /// The next entry id; ids are unique within the timeline and never
    /// reused, so the read marker can point at an entry.
    next_id: u64,
}

/// One line (before wrapping) of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Unique within the timeline.
    pub id: u64,
    /// Server time in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// What the line shows.
    pub kind: EntryKind,
}

/// What an entry shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A message: a room's (with its sequence number) or a whisper's.
    Chat {
        /// The room's sequence number; `None` for whispers.
        seq: Option<u64>,
        /// The sender's username, for colours and completion.
        username: String,
        /// The sender's display name, shown.
        display_name: String,
        /// The text as sent.
        text: String,
        /// Sent by this user.
        own: bool,
        /// Names this user.
        mention: bool,
    },
    /// People who joined and left, condensed into one line while nothing
    /// else happens in between.
    Presence {
        /// Display names that joined, in order.
        joined: Vec<String>,
        /// Display names that left, in order.
        left: Vec<String>,
    },
    /// Anything else worth a line: topics, kicks, command output.
    Notice(String),
}

/// A chat message to add.
#[derive(Debug, Clone)]
pub struct NewChat {
    /// The room's sequence number; `None` for whispers.
    pub seq: Option<u64>,
    /// Server time in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The sender's username.
    pub username: String,
    /// The sender's display name.
    pub display_name: String,
    /// The text.
    pub text: String,
    /// Sent by this user.
    pub own: bool,
    /// Names this user.
    pub mention: bool,
}

/// How many names a condensed presence line holds before a new one starts.
const PRESENCE_NAMES: usize = 8;

impl Timeline {
    /// The entries, oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Whether a chat message with this sequence number is here.
    pub fn has_seq(&self, seq: u64) -> bool {
        self.seqs.contains(&seq)
    }

    /// The lowest sequence number held, for paging back.
    pub fn oldest_seq(&self) -> Option<u64> {
        self.seqs.iter().copied().min()
    }

    /// Adds a chat message in sequence order. Returns its entry id, or
    /// `None` when the message is already here.
    pub fn add_chat(&mut self, chat: NewChat) -> Option<u64> {
        if let Some(seq) = chat.seq {
            if !self.seqs.insert(seq) {
                return None;
            }
        }
        // Walk back over messages numbered above this one: they arrived
        // first but come after it.
        let mut at = self.entries.len();
        if let Some(seq) = chat.seq {
            while at > 0
                && matches!(self.entries[at - 1].kind, EntryKind::Chat { seq: Some(other), .. } if other > seq)
            {
                at -= 1;
            }
        }
        let id = self.take_id();
        let entry = Entry {
            id,
            timestamp_ms: chat.timestamp_ms,
            kind: EntryKind::Chat {
                seq: chat.seq,
                username: chat.username,
                display_name: chat.display_name,
                text: chat.text,
                own: chat.own,
                mention: chat.mention,
            },
        };
        self.entries.insert(at, entry);
        Some(id)
    }

    /// Adds older messages (a history page, oldest first) before everything
    /// else, skipping those already here.
    pub fn prepend(&mut self, older: Vec<NewChat>) {
        let mut front = Vec::with_capacity(older.len());
        for chat in older {
            let Some(seq) = chat.seq else { continue };
            if !self.seqs.insert(seq) {
                continue;
            }
            let id = self.take_id();
            front.push(Entry {
                id,
                timestamp_ms: chat.timestamp_ms,
                kind: EntryKind::Chat {
                    seq: chat.seq,
                    username: chat.username,
                    display_name: chat.display_name,
                    text: chat.text,
                    own: chat.own,
                    mention: chat.mention,
                },
            });
        }
        front.append(&mut self.entries);
        self.entries = front;
    }

    /// Someone joined (`joined`) or left; merged into the last line when
    /// that is a presence line.
    pub fn presence(&mut self, timestamp_ms: i64, name: &str, joined: bool) {
        if let Some(Entry {
            kind:
                EntryKind::Presence {
                    joined: joined_names,
                    left,
                },
            ..
        }) = self.entries.last_mut()
        {
            if joined_names.len() + left.len() < PRESENCE_NAMES {
                let names = if joined { joined_names } else { left };
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
                return;
            }
        }
        let (joined, left) = if joined {
            (vec![name.to_owned()], Vec::new())
        } else {
            (Vec::new(), vec![name.to_owned()])
        };
        let id = self.take_id();
        self.entries.push(Entry {
            id,
            timestamp_ms,
            kind: EntryKind::Presence { joined, left },
        });
    }

    /// Adds a notice line at the end.
    pub fn notice(&mut self, timestamp_ms: i64, text: impl Into<String>) {
        let id = self.take_id();
        self.entries.push(Entry {
            id,
            timestamp_ms,
            kind: EntryKind::Notice(text.into()),
        });
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }
}

#[cfg(test)]
mod tests;
