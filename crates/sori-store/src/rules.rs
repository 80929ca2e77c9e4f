//! The rules for account names, passwords, room names and topics, checked
//! before anything is hashed or stored. Pure functions: no I/O, no
//! allocation.

#[cfg(test)]
mod tests;

/// Why a username, password, display name, room name or topic was refused.
/// The message is written for the end user and can be shown as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The username breaks the username rule; the reason says how.
    #[error("{0}")]
    InvalidUsername(&'static str),
    /// The password is too short or too long; the reason says which.
    #[error("{0}")]
    InvalidPassword(&'static str),
    /// The display name breaks the display name rule; the reason says how.
    #[error("{0}")]
    InvalidDisplayName(&'static str),
    /// The room name is empty, too long or has a character a room name may
    /// not; the reason says which.
    #[error("{0}")]
    InvalidRoomName(&'static str),
    /// The topic is too long or has a control or format character; the
    /// reason says which.
    #[error("{0}")]
    InvalidTopic(&'static str),
}

/// The fewest characters in a username.
const USERNAME_MIN_CHARS: usize = 3;
/// The most characters in a username.
const USERNAME_MAX_CHARS: usize = 20;
/// The fewest characters in a password.
const PASSWORD_MIN_CHARS: usize = 8;
/// The most bytes in a password: Argon2 reads every byte, so this bounds the
/// work one login attempt can cost the server.
const PASSWORD_MAX_BYTES: usize = 128;
/// The most characters in a display name.
const DISPLAY_NAME_MAX_CHARS: usize = 24;

/// Checks a username: 3 to 20 ASCII letters, digits and `_`, starting with a
/// letter.
///
/// ASCII only, so that names that look alike in different scripts cannot
/// impersonate each other at login; display names are where other scripts go.
pub fn validate_username(s: &str) -> Result<(), RuleError> {
    const REASON: &str =
        "username must be 3 to 20 characters: letters, digits and '_', starting with a letter";
    let len_ok = (USERNAME_MIN_CHARS..=USERNAME_MAX_CHARS).contains(&s.len());
    let starts_with_letter = s.starts_with(|c: char| c.is_ascii_alphabetic());
    let chars_ok = s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    // All chars are ASCII when `chars_ok`, so the byte length is the char count.
    if len_ok && starts_with_letter && chars_ok {
        Ok(())
    } else {
        Err(RuleError::InvalidUsername(REASON))
    }
}

/// Checks a password: at least 8 characters and at most 128 bytes.
///
/// There are no composition rules (NIST SP 800-63B). The minimum counts
/// characters, so a Korean password is not credited three times its length;
/// the maximum counts bytes, because bytes are what the hash costs.
pub fn validate_password(s: &str) -> Result<(), RuleError> {
    if s.chars().count() < PASSWORD_MIN_CHARS {
        return Err(RuleError::InvalidPassword(
            "password must be at least 8 characters",
        ));
    }
    if s.len() > PASSWORD_MAX_BYTES {
        return Err(RuleError::InvalidPassword(
            "password must be at most 128 bytes (fewer characters in non-Latin scripts)",
        ));
    }
    Ok(())
}

/// Checks a display name: 1 to 24 characters of letters and digits in any
/// script, spaces, `_`, `-` and `.`, with no space at either end and no two
/// spaces in a row.
///
/// Everything else is refused, which keeps out control characters, format
/// characters (zero-width joiners, direction overrides) and other invisible
/// tricks.
pub fn validate_display_name(s: &str) -> Result<(), RuleError> {
    let n_chars = s.chars().count();
    if n_chars == 0 || n_chars > DISPLAY_NAME_MAX_CHARS {
        return Err(RuleError::InvalidDisplayName(
            "display name must be 1 to 24 characters",
        ));
    }
    if !s
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.'))
    {
        return Err(RuleError::InvalidDisplayName(
            "display name may contain only letters, digits, spaces, '_', '-' and '.'",
        ));
    }
    if s.starts_with(' ') || s.ends_with(' ') {
        return Err(RuleError::InvalidDisplayName(
            "display name must not start or end with a space",
        ));
    }
    if s.contains("  ") {
        return Err(RuleError::InvalidDisplayName(
            "display name must not contain two spaces in a row",
        ));
    }
    Ok(())
}

/// Checks a room name: 1 to `max_chars` characters of letters and digits in
/// any script, `_`, `-`, `.` and `#`, with no spaces.
///
/// The empty name is the lobby's, which the server creates itself, so it is
/// refused here. The limit is the server's to configure, so the messages do
/// not state it.
pub fn validate_room_name(s: &str, max_chars: usize) -> Result<(), RuleError> {
    if s.is_empty() {
        return Err(RuleError::InvalidRoomName("room name must not be empty"));
    }
    if s.chars().count() > max_chars {
        return Err(RuleError::InvalidRoomName("room name is too long"));
    }
    if !s
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '#'))
    {
        return Err(RuleError::InvalidRoomName(
            "room name may contain only letters, digits, '_', '-', '.' and '#', and no spaces",
        ));
    }
    Ok(())
}

/// Checks a topic: at most `max_chars` characters, none of them a control
/// character (newlines and tabs included), a format character (zero-width
/// characters, direction overrides, ...) or a line or paragraph separator.
///
/// A topic is one line shown next to the room's name, so anything that
/// breaks the line or hides text is refused; everything else, spaces at
/// either end included, is the owner's choice. The empty topic means none.
pub fn validate_topic(s: &str, max_chars: usize) -> Result<(), RuleError> {
    if s.chars().count() > max_chars {
        return Err(RuleError::InvalidTopic("topic is too long"));
    }
    if s.chars()
        .any(|c| c.is_control() || is_format_or_separator(c))
    {
        return Err(RuleError::InvalidTopic(
            "topic must be one line with no control or invisible formatting characters",
        ));
    }
    Ok(())
}

/// The characters of Unicode general categories Cf (format), Zl (line
/// separator) and Zp (paragraph separator), as of Unicode 15, as inclusive
/// ranges. The standard library has `char::is_control` for Cc but nothing
/// for these.
const FORMAT_AND_SEPARATOR_RANGES: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{2028}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

fn is_format_or_separator(c: char) -> bool {
    FORMAT_AND_SEPARATOR_RANGES
        .iter()
        .any(|&(first, last)| (first..=last).contains(&c))
}
