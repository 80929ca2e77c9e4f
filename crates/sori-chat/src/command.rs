//! Slash commands: parsing a line into a [`Command`], and the list that
//! help and completion show.

/// A command typed on the input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/join ROOM`: join a room (or open it, if already a member).
    Join(String),
    /// `/leave [ROOM]`: leave a room; in a whisper conversation, close it.
    Leave(Option<String>),
    /// `/create [-i] ROOM [TOPIC]`: create a room (`-i`: invite-only).
    Create {
        /// The room's name.
        name: String,
        /// Its topic, possibly empty.
        topic: String,
        /// Invite-only.
        invite_only: bool,
    },
    /// `/rooms`: list the rooms one can join.
    Rooms,
    /// `/who [ROOM]`: list a room's members.
    Who(Option<String>),
    /// `/w NAME [TEXT]`: whisper, or open the conversation with NAME.
    Whisper {
        /// The other user's username.
        to: String,
        /// The text; empty opens the conversation only.
        text: String,
    },
    /// `/topic TEXT`: set the room's topic.
    Topic(String),
    /// `/invite NAME`.
    Invite(String),
    /// `/kick NAME [REASON]`.
    Kick(String, String),
    /// `/ban NAME [REASON]`.
    Ban(String, String),
    /// `/unban NAME`.
    Unban(String),
    /// `/op NAME`: make an operator.
    Op(String),
    /// `/deop NAME`: take operator rights.
    Deop(String),
    /// `/help`.
    Help,
    /// `/quit`.
    Quit,
}

/// Each command's name, arguments and meaning, for `/help` and completion.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    ("/join", "ROOM", "join or open a room"),
    ("/leave", "[ROOM]", "leave room/close whisper"),
    ("/create", "[-i] ROOM [TOPIC]", "new room, -i invite-only"),
    ("/rooms", "", "list rooms"),
    ("/who", "[ROOM]", "list members"),
    ("/w", "NAME [TEXT]", "whisper, or open a chat"),
    ("/topic", "TEXT", "set the topic"),
    ("/invite", "NAME", "invite to this room"),
    ("/kick", "NAME [WHY]", "remove from this room"),
    ("/ban", "NAME [WHY]", "remove and keep out"),
    ("/unban", "NAME", "lift a ban"),
    ("/op", "NAME", "make an operator"),
    ("/deop", "NAME", "take operator rights"),
    ("/help", "", "this screen"),
    ("/quit", "", "exit"),
];

/// Parses a line that starts with `/`. `Err` holds a message for the
/// status line: an unknown command or a missing argument.
pub fn parse(line: &str) -> Result<Command, String> {
    let line = line.trim();
    let (name, rest) = line.split_once(' ').unwrap_or((line, ""));
    let rest = rest.trim();
    let (first, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    let (first, tail) = (first.to_owned(), tail.trim().to_owned());
    let needs = |what: &str| -> Result<String, String> {
        if first.is_empty() {
            Err(format!("usage: {name} {what}"))
        } else {
            Ok(first.clone())
        }
    };
    let optional = || (!first.is_empty()).then(|| first.clone());
    let command = match name.to_lowercase().as_str() {
        "/join" | "/j" => Command::Join(needs("ROOM")?.trim_start_matches('#').to_owned()),
        "/leave" | "/part" | "/close" => Command::Leave(optional()),
        "/create" => {
            let (invite_only, name, topic) = if first == "-i" {
                let (name, topic) = tail.split_once(' ').unwrap_or((&tail, ""));
                (true, name.to_owned(), topic.trim().to_owned())
            } else {
                (false, first.clone(), tail.clone())
            };
            if name.is_empty() {
                return Err("usage: /create [-i] ROOM [TOPIC]".into());
            }
            Command::Create {
                name: name.trim_start_matches('#').to_owned(),
                topic,
                invite_only,
            }
        }
        "/rooms" | "/list" => Command::Rooms,
        "/who" | "/names" => Command::Who(optional()),
        "/w" | "/msg" | "/whisper" => Command::Whisper {
            to: needs("NAME [TEXT]")?.trim_start_matches('@').to_owned(),
            text: tail,
        },
        "/topic" => {
            if rest.is_empty() {
                return Err("usage: /topic TEXT".into());
            }
            Command::Topic(rest.to_owned())
        }
        "/invite" => Command::Invite(needs("NAME")?),
        "/kick" => Command::Kick(needs("NAME [REASON]")?, tail),
        "/ban" => Command::Ban(needs("NAME [REASON]")?, tail),
        "/unban" => Command::Unban(needs("NAME")?),
        "/op" => Command::Op(needs("NAME")?),
        "/deop" => Command::Deop(needs("NAME")?),
        "/help" | "/?" => Command::Help,
        "/quit" | "/exit" => Command::Quit,
        _ => return Err(format!("unknown command {name} (try /help)")),
    };
    Ok(command)
}

#[cfg(test)]
mod tests;
