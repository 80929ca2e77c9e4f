//! Unread and mention counts, and where the read marker goes.
//!
//! All of it lives here, behind [`Unread`], so that counts the server keeps
//! (read positions stored per account) can replace the client's own
//! counting without touching the rest of the app: today a conversation
//! counts what arrives while the user looks elsewhere, and forgets it all
//! when the program exits.

use sori_protocol::pb;

/// The badge numbers of one conversation in the sidebar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Messages that arrived while the conversation was not in view.
    pub unread: u32,
    /// Of those, the ones that name the user (whispers always do).
    pub mentions: u32,
}

/// What a conversation has not been seen of.
#[derive(Debug, Clone, Default)]
pub struct Unread {
    counts: Counts,
    /// The first entry that arrived unseen: the read marker goes above it
    /// the next time the conversation is opened.
    first_unseen: Option<u64>,
}

impl Unread {
    /// Takes in a message from someone else. `entry_id` is its entry in the
    /// conversation's timeline; `in_view` says whether the user is looking
    /// at the conversation now, in which case it is read at once.
    pub fn message(&mut self, entry_id: u64, mention: bool, in_view: bool) {
        if in_view {
            return;
        }
        self.counts.unread = self.counts.unread.saturating_add(1);
        if mention {
            self.counts.mentions = self.counts.mentions.saturating_add(1);
        }
        self.first_unseen.get_or_insert(entry_id);
    }

    /// The user opened the conversation: everything is read. Returns the
    /// entry the read marker goes above, if anything was unread.
    pub fn viewed(&mut self) -> Option<u64> {
        self.counts = Counts::default();
        self.first_unseen.take()
    }

    /// The badge numbers.
    pub fn counts(&self) -> Counts {
        self.counts
    }
}

/// Whether `text` names the user: their username or display name, in any
/// letter case, optionally after an `@`.
///
/// A name must not be part of a longer ASCII word (`al` is not mentioned
/// by "also"), but may be followed by other letters, so Korean particles
/// count: "지수야" and "지수님" mention 지수.
pub fn is_mention(text: &str, me: &pb::UserInfo) -> bool {
    [me.username.as_str(), me.display_name.as_str()]
        .into_iter()
        .filter(|name| !name.is_empty())
        .any(|name| names(text, name))
}

/// Whether `name` occurs in `text` as a word, case-insensitively.
fn names(text: &str, name: &str) -> bool {
    let text = text.to_lowercase();
    let name = name.to_lowercase();
    let mut from = 0;
    while let Some(found) = text[from..].find(&name) {
        let start = from + found;
        let end = start + name.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        let is_word_char =
            |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if !is_word_char(before) && !is_word_char(after) {
            return true;
        }
        // Step past the first character of this match.
        from = start + text[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

#[cfg(test)]
mod tests;
