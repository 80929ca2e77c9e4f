//! The read side of a connection: bytes in, validated frames out.
//!
//! The session's task `select!`s on [`Connection::poll_fill`] (cancel-safe)
//! beside its writes and timers, then drains what else the kernel has with
//! [`Connection::try_fill`], which never waits. While a session is idle its
//! read buffer is released, and so is the box that holds it, which keeps
//! thousands of idle sessions small.

use std::io;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use sori_protocol::pb::ErrorCode;
use sori_protocol::{DecodeError, Frame, HeaderError, decode};

use sori_core::refusal::Refusal;

use crate::transport::{Fill, Reader};

/// Bytes asked of the kernel per read.
const READ_CHUNK: usize = 4096;

/// What the next bytes in the buffer hold.
pub(crate) enum Incoming {
    /// A valid frame, and its length on the wire (header included).
    Frame(Frame, usize),
    /// A well-framed but unusable frame (unknown type, garbage body): answer
    /// the refusal with the request id and go on.
    Skipped {
        request_id: u32,
        /// The frame's length on the wire, for the rate limits.
        len: usize,
        refusal: Refusal,
    },
    /// A header that cannot be trusted: close the connection.
    Fatal(Refusal),
    /// WebSocket only: bytes to write back at once (a pong).
    Control(Bytes),
    /// WebSocket only: the client closed; answer with this close frame.
    Closed(Bytes),
}

/// The WebSocket framing around a session's Sori frames: each binary
/// message carries exactly one whole frame.
struct WebSocket {
    decoder: sori_ws::Decoder,
    /// Socket bytes not yet decoded into WebSocket messages.
    raw: BytesMut,
    /// The close code to end with: 1000, or the protocol error's.
    close_code: u16,
}

pub(crate) struct Connection {
    socket: Reader,
    /// What has been read and not yet handled. Boxed, and `None` while
    /// there is nothing: an idle session carries a pointer, not a buffer.
    pending: Option<Box<Pending>>,
    /// Set on WebSocket sessions. Boxed: TCP sessions carry a pointer.
    ws: Option<Box<WebSocket>>,
}

/// Bytes read and not yet handled.
#[derive(Default)]
struct Pending {
    /// Frame bytes.
    buf: BytesMut,
    /// Bytes still to discard of a skipped frame whose body has not all
    /// arrived yet.
    skip: usize,
}

impl Connection {
    pub(crate) fn new(socket: Reader) -> Self {
        Connection {
            socket,
            pending: None,
            ws: None,
        }
    }

    /// A WebSocket session's connection; `early` holds bytes the client
    /// sent after its upgrade request.
    pub(crate) fn websocket(socket: Reader, max_body_len: u32, early: BytesMut) -> Self {
        let max_message = max_body_len as usize + sori_protocol::HEADER_LEN;
        Connection {
            ws: Some(Box::new(WebSocket {
                decoder: sori_ws::Decoder::new(max_message),
                raw: early,
                close_code: 1000,
            })),
            ..Connection::new(socket)
        }
    }

    /// For WebSocket sessions, the close frame to end with.
    pub(crate) fn ws_close_code(&self) -> Option<u16> {
        self.ws.as_ref().map(|ws| ws.close_code)
    }

    /// Reads what the stream has, or registers for it (cancel-safe: a
    /// pending poll took no bytes).
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Fill>> {
        loop {
            // Wait for readability before a buffer is found: an idle
            // session waits with none.
            ready!(self.socket.poll_ready(cx))?;
            let buf = read_buf(&mut self.ws, &mut self.pending);
            match ready!(self.socket.poll_read(cx, buf, READ_CHUNK)) {
                Ok(fill @ (Fill::Data(_) | Fill::Eof)) => {
                    self.after_read(&fill);
                    return Poll::Ready(Ok(fill));
                }
                // A spurious readiness (plain TCP only): the read cleared
                // it, so the next poll registers for the real one.
                Ok(Fill::Empty) => self.release_if_empty(),
                Err(err) => {
                    self.release_if_empty();
                    return Poll::Ready(Err(err));
                }
            }
        }
    }

    /// Takes what the kernel already has, without waiting.
    pub(crate) fn try_fill(&mut self) -> io::Result<Fill> {
        let buf = read_buf(&mut self.ws, &mut self.pending);
        let fill = self.socket.try_fill(buf, READ_CHUNK)?;
        self.after_read(&fill);
        Ok(fill)
    }

    fn after_read(&mut self, fill: &Fill) {
        match fill {
            Fill::Data(_) => {
                if let Some(pending) = &mut self.pending {
                    pending.discard_skipped();
                }
            }
            Fill::Empty | Fill::Eof => {}
        }
    }

    /// Gives the read buffer back if it holds nothing: idle sessions keep
    /// no buffer (4 KiB each otherwise), nor the box around it.
    pub(crate) fn release_if_empty(&mut self) {
        if self
            .pending
            .as_ref()
            .is_some_and(|pending| pending.buf.is_empty() && pending.skip == 0)
        {
            self.pending = None;
        }
        if let Some(ws) = &mut self.ws
            && ws.raw.is_empty()
            && ws.raw.capacity() > 0
        {
            ws.raw = BytesMut::new();
        }
    }

    /// Drops the read buffers, whatever they hold: the session reads
    /// nothing more. A session that waits for its Logout's answer, or for
    /// its last writes, should not hold 4 KiB it will never use.
    pub(crate) fn stop_reading(&mut self) {
        self.pending = None;
        if let Some(ws) = &mut self.ws {
            ws.raw = BytesMut::new();
        }
    }

    /// True if nothing read waits to be handled and no buffer is held.
    pub(crate) fn holds_nothing(&self) -> bool {
        self.pending.is_none() && !self.has_partial_frame()
    }

    /// The socket's read half.
    pub(crate) fn socket(&self) -> &Reader {
        &self.socket
    }

    /// The socket's read half, for the parking lot to take and give back.
    pub(crate) fn socket_mut(&mut self) -> &mut Reader {
        &mut self.socket
    }

    /// True if the stream stopped inside a frame.
    pub(crate) fn has_partial_frame(&self) -> bool {
        self.pending
            .as_ref()
            .is_some_and(|pending| !pending.buf.is_empty() || pending.skip > 0)
            || self.ws.as_ref().is_some_and(|ws| !ws.raw.is_empty())
    }

    /// The next complete frame (or verdict) in the buffer, if any.
    /// Bodies longer than `max_body_len` are refused (the server's limit:
    /// not kept per connection, which every idle session would carry).
    pub(crate) fn next_frame(&mut self, max_body_len: u32) -> Option<Incoming> {
        if self.ws.is_some() {
            return self.next_ws_frame(max_body_len);
        }
        self.next_tcp_frame(max_body_len)
    }

    /// The next frame of a WebSocket session: one per binary message.
    fn next_ws_frame(&mut self, max_body_len: u32) -> Option<Incoming> {
        loop {
            // Invariant: called only on WebSocket sessions.
            let ws = self.ws.as_mut().expect("a WebSocket session");
            let event = match ws.decoder.decode(&mut ws.raw) {
                Ok(Some(event)) => event,
                Ok(None) => return None,
                Err(err) => {
                    ws.close_code = err.close_code();
                    let code = match err {
                        sori_ws::ProtocolError::MessageTooLong { .. } => ErrorCode::FrameTooLarge,
                        _ => ErrorCode::BadWebsocket,
                    };
                    return Some(Incoming::Fatal(Refusal::new(code, err.to_string())));
                }
            };
            match event {
                sori_ws::Event::Binary(payload) => {
                    let whole = payload.len();
                    self.pending = Some(Box::new(Pending {
                        buf: BytesMut::from(payload),
                        skip: 0,
                    }));
                    let incoming = self.next_tcp_frame(max_body_len);
                    let left = self
                        .pending
                        .take()
                        .map_or(0, |pending| pending.buf.len() + pending.skip);
                    return Some(match incoming {
                        _ if left > 0 && left < whole => Incoming::Fatal(Refusal::new(
                            ErrorCode::BadWebsocket,
                            "a WebSocket message carries exactly one frame, not more",
                        )),
                        None | Some(Incoming::Fatal(_)) if left > 0 => {
                            incoming.unwrap_or_else(|| {
                                Incoming::Fatal(Refusal::new(
                                    ErrorCode::BadWebsocket,
                                    "a WebSocket message carries exactly one whole frame",
                                ))
                            })
                        }
                        Some(incoming) => incoming,
                        None => Incoming::Fatal(Refusal::new(
                            ErrorCode::BadWebsocket,
                            "an empty WebSocket message",
                        )),
                    });
                }
                sori_ws::Event::Text(_) => {
                    ws.close_code = 1003;
                    return Some(Incoming::Fatal(Refusal::new(
                        ErrorCode::BadWebsocket,
                        "text messages are not spoken here: send each frame as a binary message",
                    )));
                }
                sori_ws::Event::Ping(payload) => {
                    return Some(Incoming::Control(sori_ws::pong(&payload)));
                }
                sori_ws::Event::Pong(_) => {}
                sori_ws::Event::Close { code, .. } => {
                    return Some(Incoming::Closed(sori_ws::close(code.unwrap_or(1000), "")));
                }
            }
        }
    }

    /// The next frame of the byte stream in `buf`.
    fn next_tcp_frame(&mut self, max_body_len: u32) -> Option<Incoming> {
        let pending = self.pending.as_deref_mut()?;
        match decode(&pending.buf, max_body_len) {
            Ok((frame, len)) => {
                pending.buf.advance(len);
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
                let len = err
                    .skip_len()
                    .expect("recoverable errors have a skip length");
                pending.skip = len;
                pending.discard_skipped();
                Some(Incoming::Skipped {
                    request_id,
                    len,
                    refusal,
                })
            }
        }
    }
}

impl Pending {
    fn discard_skipped(&mut self) {
        let n = self.skip.min(self.buf.len());
        self.buf.advance(n);
        self.skip -= n;
    }
}

/// Where socket bytes go: the WebSocket buffer, or the frame buffer (boxed
/// anew if there was none).
fn read_buf<'a>(
    ws: &'a mut Option<Box<WebSocket>>,
    pending: &'a mut Option<Box<Pending>>,
) -> &'a mut BytesMut {
    match ws {
        Some(ws) => &mut ws.raw,
        None => &mut pending.get_or_insert_with(Box::default).buf,
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
