//! The read side of a connection: bytes in, validated frames out.
//!
//! The session's task `select!`s on [`Connection::poll_fill`] (cancel-safe)
//! beside its writes and timers, then drains what else the kernel has with
//! [`Connection::try_fill`], which never waits. While a session is idle its
//! read buffer is released, which keeps thousands of idle sessions small.

use std::io;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BytesMut};
use sori_protocol::pb::ErrorCode;
use sori_protocol::{DecodeError, Frame, HeaderError, decode};

use crate::refusal::Refusal;
use crate::transport::{Fill, Reader};

/// Bytes asked of the kernel per read.
const READ_CHUNK: usize = 4096;

/// What the next bytes in the buffer hold.
pub(crate) enum Incoming {
    /// A valid frame, and its length on the wire (header included).
    Frame(Frame, usize),
    /// A well-framed but unusable frame (unknown type, garbage body): answer
    /// the refusal with the request id and go on.
    Skipped { request_id: u32, refusal: Refusal },
    /// A header that cannot be trusted: close the connection.
    Fatal(Refusal),
}

pub(crate) struct Connection {
    socket: Reader,
    buf: BytesMut,
    /// Bytes still to discard of a skipped frame whose body has not all
    /// arrived yet.
    skip: usize,
    max_body_len: u32,
}

impl Connection {
    pub(crate) fn new(socket: Reader, max_body_len: u32) -> Self {
        Connection {
            socket,
            buf: BytesMut::new(),
            skip: 0,
            max_body_len,
        }
    }

    /// Reads what the stream has, or registers for it (cancel-safe: a
    /// pending poll took no bytes).
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Fill>> {
        let fill = ready!(self.socket.poll_fill(cx, &mut self.buf, READ_CHUNK))?;
        self.after_read(&fill);
        Poll::Ready(Ok(fill))
    }

    /// Takes what the kernel already has, without waiting.
    pub(crate) fn try_fill(&mut self) -> io::Result<Fill> {
        let fill = self.socket.try_fill(&mut self.buf, READ_CHUNK)?;
        self.after_read(&fill);
        Ok(fill)
    }

    fn after_read(&mut self, fill: &Fill) {
        match fill {
            Fill::Data(_) => self.discard_skipped(),
            Fill::Empty | Fill::Eof => {}
        }
    }

    /// Gives the read buffer back if it holds nothing: idle sessions keep
    /// no buffer (4 KiB each otherwise).
    pub(crate) fn release_if_empty(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            self.buf = BytesMut::new();
        }
    }

    /// True if the stream stopped inside a frame.
    pub(crate) fn has_partial_frame(&self) -> bool {
        !self.buf.is_empty() || self.skip > 0
    }

    /// The next complete frame (or verdict) in the buffer, if any.
    pub(crate) fn next_frame(&mut self) -> Option<Incoming> {
        match decode(&self.buf, self.max_body_len) {
            Ok((frame, len)) => {
                self.buf.advance(len);
                Some(Incoming::Frame(frame, len))
            }
            Err(DecodeError::Incomplete) => None,
            Err(DecodeError::Header(err)) => Some(Incoming::Fatal(header_refusal(err))),
            Err(err) => {
                let (request_id, refusal) = match &err {
                    DecodeError::UnknownType {
                        msg_type,
                        request_id,
                        ..
                    } => (
                        *request_id,
                        Refusal::new(
                            ErrorCode::UnknownType,
                            format!("unknown message type {msg_type}"),
                        ),
                    ),
                    DecodeError::MalformedBody {
                        msg_type,
                        request_id,
                        reason,
                        ..
                    } => (
                        *request_id,
                        Refusal::new(
                            ErrorCode::MalformedBody,
                            format!("malformed {msg_type:?} body: {reason}"),
                        ),
                    ),
                    // Handled by the arms above.
                    DecodeError::Incomplete | DecodeError::Header(_) => return None,
                };
                // Invariant: only UnknownType and MalformedBody reach here,
                // and both carry the frame length.
                self.skip = err
                    .skip_len()
                    .expect("recoverable errors have a skip length");
                self.discard_skipped();
                Some(Incoming::Skipped {
                    request_id,
                    refusal,
                })
            }
        }
    }

    fn discard_skipped(&mut self) {
        let n = self.skip.min(self.buf.len());
        self.buf.advance(n);
        self.skip -= n;
    }
}

fn header_refusal(err: HeaderError) -> Refusal {
    let code = match err {
        HeaderError::BadMagic(_) => ErrorCode::BadMagic,
        HeaderError::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
        HeaderError::FrameTooLarge { .. } => ErrorCode::FrameTooLarge,
    };
    Refusal::new(code, err.to_string())
}
