//! A refused request: the error code and message the client is answered with.

use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};
use sori_store::{RuleError, StoreError};

/// Why a request was refused; becomes an Error response echoing its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The error code.
    pub code: ErrorCode,
    /// What the client is told.
    pub message: String,
    /// When the refusal ends (ms since the epoch), for those that end.
    pub until_ms: i64,
}

impl Refusal {
    /// A refusal with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
            until_ms: 0,
        }
    }

    /// A refusal that ends at `until_ms` (0: never, for bans and mutes).
    pub fn until(code: ErrorCode, message: impl Into<String>, until_ms: i64) -> Self {
        Refusal {
            code,
            message: message.into(),
            until_ms,
        }
    }

    /// The Error message answering the request.
    pub fn to_message(&self) -> Message {
        Message::Error(pb::Error {
            code: self.code as i32,
            message: self.message.clone(),
            until_ms: self.until_ms,
        })
    }
}

impl From<RuleError> for Refusal {
    fn from(err: RuleError) -> Self {
        let code = match err {
            RuleError::InvalidUsername(_) => ErrorCode::InvalidUsername,
            RuleError::InvalidPassword(_) => ErrorCode::InvalidPassword,
            RuleError::InvalidDisplayName(_) => ErrorCode::InvalidDisplayName,
            RuleError::InvalidRoomName(_) => ErrorCode::InvalidRoomName,
            RuleError::InvalidTopic(_) => ErrorCode::InvalidTopic,
        };
        Refusal::new(code, err.to_string())
    }
}

impl From<StoreError> for Refusal {
    /// Conflicts the user can fix get their own codes; anything else is the
    /// server's failure, logged here and answered as INTERNAL.
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::UsernameTaken => {
                Refusal::new(ErrorCode::UsernameTaken, "that username is taken")
            }
            StoreError::DisplayNameTaken => {
                Refusal::new(ErrorCode::DisplayNameTaken, "that display name is taken")
            }
            StoreError::LobbyNotDeletable => {
                Refusal::new(ErrorCode::LobbyIsSpecial, "the lobby cannot be deleted")
            }
            StoreError::RoomNameTaken => {
                Refusal::new(ErrorCode::RoomExists, "that room name is taken")
            }
            other => {
                tracing::error!(err = %other, "store failed");
                Refusal::new(ErrorCode::Internal, "internal server error; try again")
            }
        }
    }
}

/// Chat and whisper text rules.
pub fn check_text(text: &str, max_len: usize) -> Result<(), Refusal> {
    if text.trim().is_empty() {
        return Err(Refusal::new(
            ErrorCode::EmptyMessage,
            "the message is empty",
        ));
    }
    if text.len() > max_len {
        return Err(Refusal::new(
            ErrorCode::MessageTooLong,
            format!(
                "the message is {} bytes; the limit is {max_len}",
                text.len()
            ),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(Refusal::new(
            ErrorCode::InvalidText,
            "the message contains control characters",
        ));
    }
    Ok(())
}
