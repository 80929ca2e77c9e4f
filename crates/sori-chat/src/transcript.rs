//! A conversation as the lines the message pane shows: date separators,
//! the read marker, messages (wrapped, with a hanging indent), presence and
//! notices. `ui` draws them, and `app` counts them to know how far up a
//! conversation can scroll.

use chrono::{DateTime, FixedOffset, Local, TimeZone as _};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use crate::clock::Clock;
use crate::conversation::Conversation;
use crate::text;
use crate::timeline::EntryKind;

/// Width of "HH:MM ".
const TIME_COLUMNS: usize = 6;
/// Longest name shown before a message.
const NAME_COLUMNS: usize = 16;

/// The lines of a conversation at a given width, oldest first: date
/// separators, the read marker, messages (wrapped, with a hanging indent),
/// presence and notices.
pub fn lines(clock: &Clock, conv: &Conversation, width: usize) -> Vec<Line<'static>> {
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
        let when = local_time(clock, entry.timestamp_ms);
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
