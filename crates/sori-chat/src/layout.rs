//! The chat screen's geometry: where the sidebar, the messages, the member
//! list, the status line and the input line go in a terminal of a given
//! size. `ui` draws into these areas, and `app` measures its message pane
//! with them to scroll by pages.

use ratatui::layout::{Constraint, Layout, Rect};

/// From this many columns on, the member list is shown unless toggled off.
pub const WIDE_COLUMNS: u16 = 110;
/// The sidebar's width, its border included.
const SIDEBAR_COLUMNS: u16 = 18;
/// The member list's width, its border included.
const MEMBERS_COLUMNS: u16 = 20;

/// The areas of the chat screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatLayout {
    /// The title line: where the user is, and the topic.
    pub header: Rect,
    /// The list of conversations.
    pub sidebar: Rect,
    /// The active conversation's lines.
    pub messages: Rect,
    /// The member list, when shown.
    pub members: Option<Rect>,
    /// The connection's state and the latest notice.
    pub status: Rect,
    /// The input line.
    pub input: Rect,
}

/// Splits `area` into the chat screen's areas, with room for the member
/// list when `members_visible`.
pub fn chat_layout(area: Rect, members_visible: bool) -> ChatLayout {
    let [header, body, status, input] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let sidebar_columns = SIDEBAR_COLUMNS.min(area.width / 4);
    let members_columns = if members_visible {
        MEMBERS_COLUMNS.min(area.width / 4)
    } else {
        0
    };
    let [sidebar, messages, members] = Layout::horizontal([
        Constraint::Length(sidebar_columns),
        Constraint::Min(0),
        Constraint::Length(members_columns),
    ])
    .areas(body);
    ChatLayout {
        header,
        sidebar,
        messages,
        members: (members_columns > 0).then_some(members),
        status,
        input,
    }
}
