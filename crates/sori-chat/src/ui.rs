//! Drawing an [`App`] with ratatui: the login screen, the chat screen
//! (sidebar, messages, members, status line, input line) and the help
//! screen over it.
//!
//! Everything here reads the app and writes a buffer, so `TestBackend`
//! tests see exactly what a terminal would. Text that is wrapped, padded or
//! cut here is measured with `text`, by display width.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::app::login::Field;
use crate::app::{App, Screen, role_sigil};
use crate::command::COMMANDS;
use crate::conversation::{ConvKey, Conversation};
use crate::exchange::ConnState;
use crate::layout::chat_layout;
use crate::text;
use crate::transcript;

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, app: &App) {
    match app.screen {
        Screen::Login => draw_login(frame, app),
        Screen::Chat => draw_chat(frame, app),
    }
}

fn draw_chat(frame: &mut Frame<'_>, app: &App) {
    let layout = chat_layout(frame.area(), app.members_visible());
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
    let lines = transcript::lines(&app.clock, conv, width);
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

#[cfg(test)]
mod tests;
