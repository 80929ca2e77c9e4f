//! [`ClientError`]: everything a request can fail with.

use sori_protocol::pb;
use sori_protocol::{DecodeError, Message};
use thiserror::Error;

/// Why a request, or the connection, failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// Connecting, reading or writing the socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The server sent bytes that are not a valid frame.
    #[error("bad frame from the server: {0}")]
    Protocol(#[from] DecodeError),
    /// The server answered the request with `Error`.
    #[error("server error {code:?}: {message}")]
    Server {
        /// Why the server refused; [`pb::ErrorCode::Unspecified`] for a
        /// number this build does not know.
        code: pb::ErrorCode,
        /// The server's human-readable explanation.
        message: String,
        /// When the refusal ends (ms since the Unix epoch) for refusals that
        /// end: BANNED_FROM_SERVER and MUTED (0: forever), LOGIN_THROTTLED
        /// and RATE_LIMITED (when to retry). 0 otherwise.
        until_ms: i64,
    },
    /// The server answered with a message of the wrong type for the request.
    #[error("unexpected response {0:?}")]
    Unexpected(Box<Message>),
    /// The connection closed before the answer arrived.
    #[error("connection closed")]
    Closed,
    /// No answer within [`ConnectOptions::request_timeout`](crate::ConnectOptions::request_timeout).
    #[error("request timed out")]
    Timeout,
}
