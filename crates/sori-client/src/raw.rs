//! [`RawConnection`]: byte-level access to a connection, for tests that send
//! malformed input or need to see exactly what the server answers.

use std::io;

use bytes::{Buf, BytesMut};
use sori_protocol::{DEFAULT_MAX_BODY_LEN, DecodeError, Frame, Message, decode, encode_to_bytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs};

use crate::client::open;
use crate::error::ClientError;

/// Smallest free space offered to each read.
const READ_CHUNK: usize = 4 * 1024;

/// A TCP stream and its read buffer, with no tasks and no request routing:
/// the caller writes frames or bytes and reads frames one at a time.
#[derive(Debug)]
pub struct RawConnection {
    stream: TcpStream,
    /// Bytes read but not yet decoded; kept across calls, which is what makes
    /// [`RawConnection::read_frame`] cancel-safe.
    buf: BytesMut,
    max_body_len: u32,
}

impl RawConnection {
    /// Connects to `addr`, with Nagle's algorithm off.
    pub async fn connect(addr: impl ToSocketAddrs) -> Result<RawConnection, ClientError> {
        Ok(RawConnection::new(open(addr, None).await?))
    }

    /// Wraps a connected stream (either end: tests also use it as the peer
    /// of a [`Client`](crate::Client)). Accepts bodies up to
    /// [`DEFAULT_MAX_BODY_LEN`].
    pub fn new(stream: TcpStream) -> RawConnection {
        RawConnection {
            stream,
            buf: BytesMut::with_capacity(READ_CHUNK),
            max_body_len: DEFAULT_MAX_BODY_LEN,
        }
    }

    /// Changes the largest body [`RawConnection::read_frame`] accepts.
    pub fn set_max_body_len(&mut self, max_body_len: u32) {
        self.max_body_len = max_body_len;
    }

    /// Encodes and writes one frame.
    pub async fn write_frame(
        &mut self,
        request_id: u32,
        message: &Message,
    ) -> Result<(), ClientError> {
        self.write_bytes(&encode_to_bytes(request_id, message))
            .await
    }

    /// Writes bytes as they are.
    pub async fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    /// Reads the next frame; `None` on a clean end of stream (between
    /// frames).
    ///
    /// Cancel-safe: bytes read by a cancelled call stay buffered for the
    /// next. A frame of unknown type or with a malformed body is returned as
    /// [`ClientError::Protocol`] once, after it has fully arrived, and
    /// skipped, so the next call reads the frame after it. A bad header is
    /// returned as an error by every later call: the stream is out of step.
    pub async fn read_frame(&mut self) -> Result<Option<Frame>, ClientError> {
        loop {
            match decode(&self.buf, self.max_body_len) {
                Ok((frame, len)) => {
                    self.buf.advance(len);
                    return Ok(Some(frame));
                }
                Err(DecodeError::Incomplete) => {}
                Err(err) => match err.skip_len() {
                    Some(skip) if skip <= self.buf.len() => {
                        self.buf.advance(skip);
                        return Err(err.into());
                    }
                    // Skippable, but the body is still arriving (an unknown
                    // type is known from the header alone): read it first.
                    Some(_) => {}
                    None => return Err(err.into()),
                },
            }
            self.buf.reserve(READ_CHUNK);
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let err =
                    io::Error::new(io::ErrorKind::UnexpectedEof, "stream ended inside a frame");
                return Err(err.into());
            }
        }
    }

    /// Closes the sending side (a TCP FIN); reading still works.
    pub async fn shutdown_write(&mut self) -> Result<(), ClientError> {
        self.stream.shutdown().await?;
        Ok(())
    }

    /// Bytes read but not yet returned as a frame.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// The underlying stream.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// The underlying stream, mutably (for example, to write with no
    /// framing at all). Reading it directly bypasses the frame buffer.
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// The stream and any bytes read but not yet decoded.
    pub fn into_parts(self) -> (TcpStream, BytesMut) {
        (self.stream, self.buf)
    }
}
