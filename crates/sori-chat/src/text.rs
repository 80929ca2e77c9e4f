//! Measuring, wrapping and truncating text by display width.
//!
//! A terminal cell holds one column; Hangul, CJK ideographs and most emoji
//! take two. ratatui measures each grapheme cluster with `unicode-width`
//! when it lays out a `Span`, so everything here measures the same way:
//! per grapheme, never per byte or per `char`. A line built from these
//! pieces then fits its width exactly as ratatui draws it.

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// The display width of `text`, in terminal columns.
pub fn width(text: &str) -> usize {
    text.graphemes(true).map(grapheme_width).sum()
}

/// The longest prefix of `text` that fits in `max` columns, with `…` in
/// the last column when something was cut.
pub fn truncate(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for grapheme in text.graphemes(true) {
        let w = grapheme_width(grapheme);
        if used + w > max - 1 {
            break;
        }
        out.push_str(grapheme);
        used += w;
    }
    out.push('…');
    out
}

/// The longest prefix of `text` that fits in `max` columns, cut without a
/// mark (for the input line, whose ends move with the cursor).
pub fn truncate_plain(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    for grapheme in text.graphemes(true) {
        let w = grapheme_width(grapheme);
        if used + w > max {
            break;
        }
        out.push_str(grapheme);
        used += w;
    }
    out
}

/// Pads `text` with spaces on the right to exactly `columns` columns,
/// truncating it first if it is wider.
pub fn pad(text: &str, columns: usize) -> String {
    let mut out = truncate(text, columns);
    let used = width(&out);
    out.extend(std::iter::repeat_n(' ', columns.saturating_sub(used)));
    out
}

/// Breaks `text` into lines of at most `first` columns for the first line
/// and `rest` columns for the others.
///
/// Lines break after a space where one is near, otherwise between
/// graphemes (CJK text has no spaces, and a wide character is never split
/// across lines). Newlines in the text start a new line; other control
/// characters become spaces, so a message cannot move the cursor.
pub fn wrap(text: &str, first: usize, rest: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut used = 0;
    // Where the current line may be broken: the byte length and width just
    // after its last space.
    let mut last_space: Option<(usize, usize)> = None;
    let limit = |n_lines: usize| if n_lines == 0 { first } else { rest }.max(1);

    for grapheme in text.graphemes(true) {
        if grapheme == "\n" || grapheme == "\r\n" {
            lines.push(std::mem::take(&mut current));
            used = 0;
            last_space = None;
            continue;
        }
        let grapheme = if grapheme.chars().any(char::is_control) {
            " "
        } else {
            grapheme
        };
        let w = grapheme_width(grapheme);
        if used + w > limit(lines.len()) && used > 0 {
            if grapheme == " " {
                // The space itself is the break.
                lines.push(std::mem::take(&mut current));
                used = 0;
                last_space = None;
                continue;
            }
            match last_space {
                // Break after the last space if it leaves a reasonable line.
                Some((at, at_width)) if at_width * 2 >= limit(lines.len()) => {
                    let tail = current.split_off(at);
                    let line = std::mem::replace(&mut current, tail);
                    lines.push(line.trim_end().to_owned());
                    used -= at_width;
                }
                _ => {
                    lines.push(std::mem::take(&mut current));
                    used = 0;
                }
            }
            last_space = None;
        }
        current.push_str(grapheme);
        used += w;
        if grapheme == " " {
            last_space = Some((current.len(), used));
        }
    }
    lines.push(current);
    lines
}

/// The width of one grapheme cluster, as ratatui counts it.
fn grapheme_width(grapheme: &str) -> usize {
    grapheme.width()
}

#[cfg(test)]
mod tests;
