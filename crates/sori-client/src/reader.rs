//! The reader task: decodes frames and routes each to where it belongs.

use std::io;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use sori_protocol::{
    DecodeError, Frame, HEADER_LEN, Message, decode, encode_to_bytes, parse_header, pb,
};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::error::ClientError;
use crate::events::Event;
use crate::pending::Pending;

/// Smallest free space offered to each read.
const READ_CHUNK: usize = 4 * 1024;

/// The reading half of a connection and where its frames go.
pub(crate) struct Reader {
    /// The read half: a plain TCP half or a TLS stream's.
    pub(crate) socket: Box<dyn AsyncRead + Send + Unpin>,
    /// The requests waiting for their response, shared with the
    /// [`Client`](crate::Client) handles that register them.
    pub(crate) pending: Arc<Pending>,
    /// Largest frame body accepted; a larger one ends the connection.
    pub(crate) max_body_len: u32,
    pub(crate) events: mpsc::UnboundedSender<Event>,
    /// Weak, so that the reader (which only needs the queue to answer the
    /// server's pings) does not keep the connection open once every
    /// [`Client`](crate::Client) handle is dropped.
    pub(crate) writer: mpsc::WeakSender<Bytes>,
    /// Cancelled when either task ends the connection.
    pub(crate) closed: CancellationToken,
}

impl Reader {
    /// Reads until the connection ends, then fails the waiting requests,
    /// yields [`Event::Closed`] and stops the writer.
    pub(crate) async fn run(mut self) {
        match self.read_frames().await {
            Ok(()) => debug!("connection closed"),
            Err(err) => debug!(%err, "connection failed"),
        }
        self.pending.close();
        // A send error only means nobody listens for events.
        let _ = self.events.send(Event::Closed);
        self.closed.cancel();
    }

    async fn read_frames(&mut self) -> Result<(), ClientError> {
        let max_body_len = self.max_body_len;
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        loop {
            loop {
                match decode(&buf, max_body_len) {
                    Ok((frame, len)) => {
                        buf.advance(len);
                        self.dispatch(frame);
                    }
                    Err(DecodeError::Incomplete) => break,
                    // Even a skippable frame means the server speaks
                    // something this client does not: give up on it.
                    Err(err) => return Err(err.into()),
                }
            }
            // Make room for the rest of a frame whose header has arrived, so
            // a large frame is read in few calls.
            let frame_len = match parse_header(&buf, max_body_len) {
                Ok(Some(header)) => HEADER_LEN + header.body_len as usize,
                _ => 0,
            };
            buf.reserve(frame_len.saturating_sub(buf.len()).max(READ_CHUNK));
            let n_read = tokio::select! {
                res = self.socket.read_buf(&mut buf) => res?,
                () = self.closed.cancelled() => return Ok(()),
            };
            if n_read == 0 {
                if buf.is_empty() {
                    return Ok(());
                }
                let err =
                    io::Error::new(io::ErrorKind::UnexpectedEof, "stream ended inside a frame");
                return Err(err.into());
            }
        }
    }

    fn dispatch(&self, frame: Frame) {
        let Frame {
            request_id,
            message,
        } = frame;
        let event = match message {
            Message::Ping(ping) => return self.pong(request_id, ping.nonce),
            Message::Kicked(kicked) => Event::Kicked {
                code: kicked.code(),
                message: kicked.message,
                until_ms: kicked.until_ms,
            },
            message if request_id != 0 => {
                if let Err(message) = self.pending.complete(request_id, message) {
                    debug!(request_id, ?message, "response that no request waits for");
                }
                return;
            }
            Message::ChatMessage(chat) => Event::Chat(chat),
            Message::WhisperMessage(whisper) => Event::Whisper(whisper),
            Message::UserJoined(joined) => Event::UserJoined(joined.user.unwrap_or_default()),
            Message::UserLeft(left) => Event::UserLeft(left.user.unwrap_or_default()),
            Message::RoomUpdated(updated) => Event::RoomUpdated(updated),
            Message::Invited(invited) => Event::Invited(invited),
            Message::MemberJoined(joined) => Event::MemberJoined(joined),
            Message::MemberLeft(left) => Event::MemberLeft(left),
            Message::RoleChanged(changed) => Event::RoleChanged(changed),
            Message::RoomDeleted(deleted) => Event::RoomDeleted(deleted),
            Message::Error(error) => Event::Error {
                code: error.code(),
                message: error.message,
            },
            message => {
                debug!(?message, "ignoring push");
                return;
            }
        };
        // A send error only means nobody listens for events.
        let _ = self.events.send(event);
    }

    /// Answers the server's keep-alive ping with the same nonce and id.
    fn pong(&self, request_id: u32, nonce: u64) {
        let Some(writer) = self.writer.upgrade() else {
            // Every handle is gone and the connection is closing.
            return;
        };
        let frame = encode_to_bytes(request_id, &Message::Pong(pb::Pong { nonce }));
        // Never wait here: the reader must keep reading. A full queue means
        // the client is sending plenty, which keeps the session alive anyway.
        if writer.try_send(frame).is_err() {
            debug!(nonce, "outbound queue full; pong dropped");
        }
    }
}
