//! Drawing an [`App`] with ratatui: the login screen, the chat screen
//! (sidebar, messages, members, status line, input line) and the help
//! screen over it.
//!
//! Everything here reads the app and writes a buffer, so `TestBackend`
//! tests see exactly what a terminal would. Text that is wrapped, padded or
//! cut here is measured with `text`, by display width.

use chrono::{DateTime, FixedOffset, Local, TimeZone as _};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::app::{App, Clock, ConvKey, Conversation, Field, Screen, role_sigil};
use crate::command::COMMANDS;
use crate::exchange::ConnState;
use crate::text;
use crate::timeline::EntryKind;

/// From this many columns on, the member list is shown unless toggled off.
pub const WIDE_COLUMNS: u16 = 110;
/// The sidebar's width, its border included.
const SIDEBAR_COLUMNS: u16 = 18;
/// The member list's width, its border included.
const MEMBERS_COLUMNS: u16 = 20;
/// Width of "HH:MM ".
const TIME_COLUMNS: usize = 6;
/// Longest name shown before a message.
const NAME_COLUMNS: usize = 16;

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, app: &App) {
    match app.screen {
        Screen::Login => draw_login(frame, app),
        Screen::Chat => draw_chat(frame, app),
    }
}

/// The width of the message pane for the app's terminal size.
pub fn message_width(app: &App) -> usize {
    usize::from(chat_layout(app, full(app)).messages.width)
}

/// The height of the message pane for the app's terminal size.
pub fn message_height(app: &App) -> u16 {
    chat_layout(app, full(app)).messages.height
}

/// The lines of a conversation at a given width, oldest first: date
/// separators, the read marker, messages (wrapped, with a hanging indent),
/// presence and notices.
pub fn conversation_lines(app: &App, conv: &Conversation, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if width == 0 {
        return lines;
    }
    let dim = Style::default().fg(Color::DarkGray);
    if conv.loading {
        lines.push(rule("loading older messages…", width, dim));
    } else if !conv.has_more && conv.room().is_some() {
        lines.push(rule(&format!("start of {}", conv.label()), width, dim));
    }
    let mut last_date = None;
    for entry in conv.timeline.entries() {
        let when = local_time(&app.clock, entry.timestamp_ms);
        let date = when.map(|when| when.date_naive());
        if date.is_some() && date != last_date {
            if let Some(when) = when {
                let label = when.format("%A, %-d %B %Y").to_string();
                lines.push(rule(&label, width, Style::default().fg(Color::Blue)));
            }
            last_date = date;
        }
        if conv.marker == Some(entry.id) {
            let style = Style::default().fg(Color::Red);
            lines.push(rule("new since you were here", width, style));
        }
        let time = when.map_or_else(
            || "--:--".to_owned(),
            |when| when.format("%H:%M").to_string(),
        );
        let time_span = Span::styled(format!("{time} "), dim);
        match &entry.kind {
            EntryKind::Chat {
                username,
                display_name,
                text: body,
                own,
                mention,
                ..
            } => {
                let name = text::truncate(display_name, NAME_COLUMNS);
                let prefix = TIME_COLUMNS + text::width(&name) + 2;
                let indent = if prefix * 2 <= width {
                    prefix
                } else {
                    TIME_COLUMNS
                };
                let first = width.saturating_sub(prefix);
                let name_style = if *own {
                    Style::default()
                        .fg(Color::Gray)
                        .add_modifier(Modifier::BOLD)
                } else {
                    Style::default()
                        .fg(name_color(username))
                        .add_modifier(Modifier::BOLD)
                };
                let body_style = if *mention {
                    Style::default()
                        .fg(Color::Yellow)
                        .add_modifier(Modifier::BOLD)
                } else {
                    Style::default()
                };
                let wrapped = if first == 0 {
                    let mut rest = text::wrap(
                        body,
                        width.saturating_sub(indent),
                        width.saturating_sub(indent),
                    );
                    rest.insert(0, String::new());
                    rest
                } else {
                    text::wrap(body, first, width.saturating_sub(indent))
                };
                for (line_idx, part) in wrapped.into_iter().enumerate() {
                    if line_idx == 0 {
                        lines.push(Line::from(vec![
                            time_span.clone(),
                            Span::styled(name.clone(), name_style),
                            Span::raw(": "),
                            Span::styled(part, body_style),
                        ]));
                    } else {
                        lines.push(Line::from(vec![
                            Span::raw(" ".repeat(indent)),
                            Span::styled(part, body_style),
                        ]));
                    }
                }
            }
            EntryKind::Presence { joined, left } => {
                let mut parts = Vec::new();
                if !joined.is_empty() {
                    parts.push(format!("→ {} joined", joined.join(", ")));
                }
                if !left.is_empty() {
                    parts.push(format!("← {} left", left.join(", ")));
                }
                push_wrapped(&mut lines, time_span, &parts.join("  "), width, dim);
            }
            EntryKind::Notice(notice) => {
                let style = Style::default().fg(Color::Cyan);
                push_wrapped(&mut lines, time_span, &format!("* {notice}"), width, style);
            }
        }
    }
    lines
}

/// The areas of the chat screen.
struct ChatLayout {
    header: Rect,
    sidebar: Rect,
    messages: Rect,
    members: Option<Rect>,
    status: Rect,
    input: Rect,
}

fn full(app: &App) -> Rect {
    Rect::new(0, 0, app.size.0, app.size.1)
}

fn chat_layout(app: &App, area: Rect) -> ChatLayout {
    let [header, body, status, input] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let sidebar_columns = SIDEBAR_COLUMNS.min(area.width / 4);
    let members_columns = if app.members_visible() {
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

fn draw_chat(frame: &mut Frame<'_>, app: &App) {
    let layout = chat_layout(app, frame.area());
    let conv = app.active_conv();

    // Header: where the user is, and the topic.
    let mut title = format!(" {}", conv.label());
    if !conv.topic.is_empty() {
        title.push_str(" — ");
        title.push_str(&conv.topic);
    }
    let scrolled = if conv.scroll > 0 {
        " [scrolled: PgDn]"
    } else {
        ""
    };
    let header_width = usize::from(layout.header.width);
    let title = text::pad(&title, header_width.saturating_sub(text::width(scrolled)));
    let header_style = Style::default()
        .fg(Color::White)
        .bg(Color::Blue)
        .add_modifier(Modifier::BOLD);
    frame.render_widget(
        Paragraph::new(Line::from(format!("{title}{scrolled}"))).style(header_style),
        layout.header,
    );

    draw_sidebar(frame, app, layout.sidebar);
    draw_messages(frame, app, conv, layout.messages);
    if let Some(area) = layout.members {
        draw_members(frame, conv, area);
    }
    draw_status(frame, app, layout.status);

    // Input line, scrolled sideways to keep the cursor in view.
    let prompt = format!("{}> ", conv.label());
    let prompt = text::truncate(&prompt, usize::from(layout.input.width) / 3);
    let room = usize::from(layout.input.width).saturating_sub(text::width(&prompt) + 1);
    let (shown, cursor) = input_window(app.input.text(), app.input.cursor_column(), room);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(prompt.clone(), Style::default().fg(Color::Green)),
            Span::raw(shown),
        ])),
        layout.input,
    );
    if !app.help {
        let x = layout.input.x + (text::width(&prompt) + cursor) as u16;
        frame.set_cursor_position(Position::new(
            x.min(layout.input.right().saturating_sub(1)),
            layout.input.y,
        ));
    }

    if app.help {
        let area = Rect {
            x: 0,
            y: layout.header.y + 1,
            width: frame.area().width,
            height: layout.messages.height,
        };
        draw_help(frame, area);
    }
}

fn draw_sidebar(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let block = Block::default()
        .borders(Borders::RIGHT)
        .border_style(Style::default().fg(Color::DarkGray));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    if width == 0 {
        return;
    }
    let heading = Style::default()
        .fg(Color::DarkGray)
        .add_modifier(Modifier::BOLD);
    let mut lines = vec![Line::styled(text::pad(" Rooms", width), heading)];
    let mut whispers_heading = false;
    for conv in &app.convs {
        if matches!(conv.key, ConvKey::Whisper(_)) && !whispers_heading {
            lines.push(Line::styled(text::pad(" Whispers", width), heading));
            whispers_heading = true;
        }
        let counts = conv.unread.counts();
        let mut badge = String::new();
        if counts.unread > 0 {
            badge.push_str(&format!(" {}", counts.unread));
        }
        if counts.mentions > 0 {
            badge.push_str(&format!(" @{}", counts.mentions));
        }
        let name_width = width.saturating_sub(text::width(&badge) + 1);
        let name = text::pad(&format!(" {}", conv.label()), name_width);
        let active = conv.key == app.active;
        let mut style = Style::default();
        if counts.unread > 0 {
            style = style.add_modifier(Modifier::BOLD);
        }
        if active {
            style = style.add_modifier(Modifier::REVERSED);
        }
        let badge_style = if counts.mentions > 0 {
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(Color::Cyan)
        };
        lines.push(Line::from(vec![
            Span::styled(name, style),
            Span::styled(badge, badge_style),
            Span::raw(" "),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_messages(frame: &mut Frame<'_>, app: &App, conv: &Conversation, area: Rect) {
    let width = usize::from(area.width);
    let height = usize::from(area.height);
    let lines = conversation_lines(app, conv, width);
    let scroll = conv.scroll.min(lines.len().saturating_sub(height));
    let end = lines.len() - scroll;
    let start = end.saturating_sub(height);
    // Newest at the bottom: pad above when there is less than a screen.
    let mut shown: Vec<Line<'static>> = vec![Line::default(); height - (end - start)];
    shown.extend(lines[start..end].iter().cloned());
    frame.render_widget(Paragraph::new(shown), area);
}

fn draw_members(frame: &mut Frame<'_>, conv: &Conversation, area: Rect) {
    let block = Block::default()
        .borders(Borders::LEFT)
        .border_style(Style::default().fg(Color::DarkGray));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let heading = Style::default()
        .fg(Color::DarkGray)
        .add_modifier(Modifier::BOLD);
    let mut lines = Vec::new();
    match (&conv.key, &conv.members) {
        (ConvKey::Whisper(_), _) => {
            lines.push(Line::styled(text::pad(" Whispering", width), heading));
            lines.push(Line::from(text::truncate(
                &format!(" {}", conv.display_name),
                width,
            )));
        }
        (_, None) => lines.push(Line::styled(text::pad(" Members…", width), heading)),
        (_, Some(members)) => {
            let title = if conv.name.is_empty() {
                "Online"
            } else {
                "Members"
            };
            lines.push(Line::styled(
                text::pad(&format!(" {title} ({})", members.len()), width),
                heading,
            ));
            for member in members {
                let name = member.user.clone().unwrap_or_default().display_name;
                let label = format!(" {}{name}", role_sigil(member.role()));
                let style = if member.online {
                    Style::default()
                } else {
                    Style::default().fg(Color::DarkGray)
                };
                lines.push(Line::styled(text::truncate(&label, width), style));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_status(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let (state, state_style) = match &app.conn {
        ConnState::Idle => (
            format!(" ○ {}", app.server),
            Style::default().fg(Color::Gray),
        ),
        ConnState::Connecting => (
            format!(" connecting to {}…", app.server),
            Style::default().fg(Color::Yellow),
        ),
        ConnState::Online => {
            let who = app
                .me
                .as_ref()
                .map(|me| format!("{} @ ", me.username))
                .unwrap_or_default();
            (
                format!(" ● {who}{}", app.server),
                Style::default().fg(Color::Green),
            )
        }
        ConnState::Reconnecting { attempt, reason } => (
            format!(" reconnecting… (try {attempt}: {reason})"),
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ),
        ConnState::Resumed => (" ● resumed".to_owned(), Style::default().fg(Color::Green)),
        ConnState::Offline(reason) => (
            format!(" offline: {reason}"),
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
    };
    let width = usize::from(area.width);
    let state = text::truncate(&state, width);
    let mut spans = vec![Span::styled(state.clone(), state_style)];
    let mut used = text::width(&state);
    if let Some(notice) = &app.notice {
        let style = if notice.error {
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(Color::Cyan)
        };
        let notice = text::truncate(&format!(" │ {}", notice.text), width.saturating_sub(used));
        used += text::width(&notice);
        spans.push(Span::styled(notice, style));
    }
    spans.push(Span::raw(" ".repeat(width.saturating_sub(used))));
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(Style::default().bg(Color::Black)),
        area,
    );
}

fn draw_help(frame: &mut Frame<'_>, area: Rect) {
    frame.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Help — Esc closes ")
        .border_style(Style::default().fg(Color::Cyan));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let syntax_width = COMMANDS
        .iter()
        .map(|(name, args, _)| text::width(name) + 1 + text::width(args))
        .max()
        .unwrap_or(0)
        + 1;
    let what_width = COMMANDS
        .iter()
        .map(|(_, _, what)| text::width(what))
        .max()
        .unwrap_or(0);
    let left_width = (1 + syntax_width + what_width + 2) as u16;
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_width), Constraint::Min(0)]).areas(inner);

    let heading = Style::default().add_modifier(Modifier::BOLD);
    let mut commands = vec![Line::styled(" Commands", heading)];
    for (name, args, what) in COMMANDS {
        let syntax = text::pad(&format!("{name} {args}"), syntax_width);
        commands.push(Line::from(vec![
            Span::raw(" "),
            Span::styled(syntax, Style::default().fg(Color::Green)),
            Span::raw(*what),
        ]));
    }
    frame.render_widget(Paragraph::new(commands), left);

    let keys = [
        ("Enter", "send"),
        ("Up/Down", "input history"),
        ("Tab", "complete"),
        ("Ctrl-N/P", "next/prev chat"),
        ("Alt-1..9", "go to chat N"),
        ("PgUp/PgDn", "scroll, older"),
        ("F1", "help"),
        ("F2", "members on/off"),
        ("Esc", "clear status"),
        ("Ctrl-C", "quit"),
        ("//text", "send \"/text\""),
    ];
    let mut lines = vec![Line::styled("Keys", heading)];
    for (key, what) in keys {
        lines.push(Line::from(vec![
            Span::styled(text::pad(key, 11), Style::default().fg(Color::Green)),
            Span::raw(what),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), right);
}

fn draw_login(frame: &mut Frame<'_>, app: &App) {
    let area = frame.area();
    let [body, status] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    let form = &app.login;
    let rows = if form.register { 11 } else { 10 };
    let width = 56.min(body.width);
    let height = rows.min(body.height);
    let boxed = Rect {
        x: body.x + (body.width - width) / 2,
        y: body.y + (body.height - height) / 2,
        width,
        height,
    };
    let title = if form.register {
        " Sori — register "
    } else {
        " Sori — log in "
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title)
        .border_style(Style::default().fg(Color::Cyan));
    let inner = block.inner(boxed);
    frame.render_widget(Clear, boxed);
    frame.render_widget(block, boxed);

    let label = Style::default().fg(Color::DarkGray);
    let value_width = usize::from(inner.width).saturating_sub(12);
    let mut fields = vec![(" Server", app.server.clone(), None)];
    fields.push((
        " Username",
        form.username.text().to_owned(),
        Some((Field::Username, form.username.cursor_column())),
    ));
    let masked: String = "•".repeat(form.password.text().chars().count());
    let masked_cursor = form
        .password
        .text()
        .chars()
        .count()
        .min(form.password.cursor_column());
    fields.push((" Password", masked, Some((Field::Password, masked_cursor))));
    if form.register {
        fields.push((
            " Name",
            form.display_name.text().to_owned(),
            Some((Field::DisplayName, form.display_name.cursor_column())),
        ));
    }
    let mut lines = vec![Line::default()];
    let mut cursor = None;
    for (row, (name, value, field)) in fields.into_iter().enumerate() {
        let focused = field.is_some_and(|(f, _)| f == form.focus);
        let (shown, column) =
            input_window(&value, field.map_or(0, |(_, column)| column), value_width);
        if focused && !form.busy {
            cursor = Some((12 + column, row + 1));
        }
        let value_style = if focused {
            Style::default().add_modifier(Modifier::UNDERLINED)
        } else {
            Style::default()
        };
        lines.push(Line::from(vec![
            Span::styled(text::pad(name, 12), label),
            Span::styled(text::pad(&shown, value_width), value_style),
        ]));
    }
    lines.push(Line::default());
    let action = if form.register { "register" } else { "log in" };
    lines.push(Line::from(format!(" Enter: {action} · Tab: next field")));
    let switch = if form.register {
        " F2: log in instead · Esc: quit"
    } else {
        " F2: register a new account · Esc: quit"
    };
    lines.push(Line::from(switch));
    frame.render_widget(Paragraph::new(lines), inner);
    if let Some((column, row)) = cursor {
        let x = inner.x + column as u16;
        let y = inner.y + row as u16;
        if x < inner.right() && y < inner.bottom() {
            frame.set_cursor_position(Position::new(x, y));
        }
    }
    draw_status(frame, app, status);
}

/// The part of an input's text that fits `room` columns with the cursor
/// (at display column `cursor`) in view, and the cursor's column in it.
fn input_window(text: &str, cursor: usize, room: usize) -> (String, usize) {
    use unicode_segmentation::UnicodeSegmentation as _;
    if cursor < room {
        return (text::truncate_plain(text, room), cursor);
    }
    // Drop graphemes from the front until the cursor fits.
    let mut skipped = 0;
    let mut rest = text;
    for grapheme in text.graphemes(true) {
        if cursor - skipped < room {
            break;
        }
        skipped += text::width(grapheme);
        rest = &rest[grapheme.len()..];
    }
    (text::truncate_plain(rest, room), cursor - skipped)
}

/// A horizontal rule with a label: `── label ─────`, exactly `width` wide.
fn rule(label: &str, width: usize, style: Style) -> Line<'static> {
    let label = text::truncate(label, width.saturating_sub(4));
    let head = format!("── {label} ");
    let fill = "─".repeat(width.saturating_sub(text::width(&head)));
    Line::styled(text::truncate(&format!("{head}{fill}"), width), style)
}

/// A time and a text wrapped under it.
fn push_wrapped(
    lines: &mut Vec<Line<'static>>,
    time: Span<'static>,
    body: &str,
    width: usize,
    style: Style,
) {
    let indent = TIME_COLUMNS.min(width / 2);
    let wrapped = text::wrap(body, width.saturating_sub(TIME_COLUMNS), width - indent);
    for (line_idx, part) in wrapped.into_iter().enumerate() {
        let lead = if line_idx == 0 {
            time.clone()
        } else {
            Span::raw(" ".repeat(indent))
        };
        lines.push(Line::from(vec![lead, Span::styled(part, style)]));
    }
}

/// A timestamp in the clock's time zone.
fn local_time(clock: &Clock, timestamp_ms: i64) -> Option<DateTime<FixedOffset>> {
    match clock.offset {
        Some(offset) => offset.timestamp_millis_opt(timestamp_ms).single(),
        None => Local
            .timestamp_millis_opt(timestamp_ms)
            .single()
            .map(|when| when.fixed_offset()),
    }
}

/// A stable colour per username, so a speaker keeps theirs.
fn name_color(username: &str) -> Color {
    const COLORS: [Color; 6] = [
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
    ];
    let hash = username.to_lowercase().bytes().fold(0u32, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(u32::from(byte))
    });
    COLORS[hash as usize % COLORS.len()]
}

#[cfg(test)]
mod tests;
