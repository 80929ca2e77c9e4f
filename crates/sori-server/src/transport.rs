//! The byte stream under a session: plain TCP, or TLS over TCP.
//!
//! Plain TCP keeps the fast path the server was built around (wait for
//! readability, then drain with `try_read`; one `writev` per batch). TLS
//! goes through rustls with the same reader and writer code on top.

use std::io::{self, IoSlice};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::BytesMut;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncWrite, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;

use crate::lot::Ticket;

#[cfg(test)]
mod tests;

/// The read half of a session's stream.
pub(crate) enum Reader {
    Plain(OwnedReadHalf),
    Tls(ReadHalf<TlsStream<TcpStream>>),
    /// The socket waits in the parking lot ([`detach`]): nothing reads
    /// this half until [`attach`] gives it back.
    Parked,
}

/// The write half of a session's stream.
pub(crate) enum Writer {
    Plain(OwnedWriteHalf),
    Tls(WriteHalf<TlsStream<TcpStream>>),
    /// The socket waits in the parking lot: nothing writes this half,
    /// which keeps the socket (away from the runtime) and its ticket
    /// ([`hold`]) until [`attach`] gives them back.
    Parked(Option<(std::net::TcpStream, Ticket)>),
}

/// Splits a plain TCP stream.
pub(crate) fn plain(stream: TcpStream) -> (Reader, Writer) {
    let (read_half, write_half) = stream.into_split();
    (Reader::Plain(read_half), Writer::Plain(write_half))
}

/// Splits an established TLS stream.
pub(crate) fn tls(stream: TlsStream<TcpStream>) -> (Reader, Writer) {
    let (read_half, write_half) = tokio::io::split(stream);
    (Reader::Tls(read_half), Writer::Tls(write_half))
}

/// Whether the halves can give their socket to the parking lot: plain TCP
/// (TLS keeps its state in the stream, which the lot does not hold).
pub(crate) fn can_detach(reader: &Reader, writer: &Writer) -> bool {
    matches!((reader, writer), (Reader::Plain(_), Writer::Plain(_)))
}

/// Takes a plain TCP socket out of its halves and away from the runtime,
/// for the parking lot; the halves are left [`Reader::Parked`] and
/// [`Writer::Parked`]. `None` (and the halves untouched) unless
/// [`can_detach`].
pub(crate) fn detach(
    reader: &mut Reader,
    writer: &mut Writer,
) -> Option<io::Result<std::net::TcpStream>> {
    if !can_detach(reader, writer) {
        return None;
    }
    let (Reader::Plain(read_half), Writer::Plain(write_half)) = (
        std::mem::replace(reader, Reader::Parked),
        std::mem::replace(writer, Writer::Parked(None)),
    ) else {
        unreachable!("checked by can_detach");
    };
    let stream = read_half
        .reunite(write_half)
        .map_err(|_| io::Error::other("the halves of two sockets"))
        .and_then(TcpStream::into_std);
    Some(stream)
}

/// Keeps a detached socket, and its place in the lot, in the write half.
pub(crate) fn hold(writer: &mut Writer, stream: std::net::TcpStream, ticket: Ticket) {
    *writer = Writer::Parked(Some((stream, ticket)));
}

/// Takes back what [`hold`] kept, if the write half keeps anything.
pub(crate) fn held(writer: &mut Writer) -> Option<(std::net::TcpStream, Ticket)> {
    match writer {
        Writer::Parked(held) => held.take(),
        _ => None,
    }
}

/// Gives a parked socket back to the runtime, as the halves [`detach`]
/// took it from. Within the runtime.
pub(crate) fn attach(
    stream: std::net::TcpStream,
    reader: &mut Reader,
    writer: &mut Writer,
) -> io::Result<()> {
    (*reader, *writer) = plain(TcpStream::from_std(stream)?);
    Ok(())
}

fn parked() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the socket is parked")
}

/// Builds the TLS acceptor from PEM files: a certificate chain and its
/// private key.
pub(crate) fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|err| format!("reading TLS certificate {}: {err}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|err| format!("reading TLS key {}: {err}", key.display()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| format!("TLS versions: {err}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        // Most often a key that belongs to another certificate: name both
        // files, since either may be the wrong one.
        .map_err(|err| {
            format!(
                "TLS certificate {} and key {}: {err}",
                cert.display(),
                key.display()
            )
        })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// What a read brought.
pub(crate) enum Fill {
    /// Some bytes.
    Data(usize),
    /// The peer closed its sending side.
    Eof,
    /// Nothing for now (plain TCP only: the socket would block).
    Empty,
}

impl Reader {
    /// Appends the bytes the stream has to `buf`, or registers for them.
    /// A poll function rather than a future: a session waiting for its
    /// client to speak carries no read future, which keeps idle sessions
    /// small.
    pub(crate) fn poll_fill(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        chunk: usize,
    ) -> Poll<io::Result<Fill>> {
        loop {
            ready!(self.poll_ready(cx))?;
            // A spurious readiness: the read cleared it, so the next poll
            // registers for the real one.
            match ready!(self.poll_read(cx, buf, chunk))? {
                Fill::Empty => continue,
                other => return Poll::Ready(Ok(other)),
            }
        }
    }

    /// Ready once the stream may have bytes: plain TCP waits for the
    /// socket to be readable; TLS is always ready, its read registers. With
    /// [`Reader::poll_read`], lets a caller wait before it has a buffer.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Reader::Plain(socket) => socket.as_ref().poll_read_ready(cx),
            Reader::Tls(_) => Poll::Ready(Ok(())),
            Reader::Parked => Poll::Ready(Err(parked())),
        }
    }

    /// One read, after [`Reader::poll_ready`]: plain TCP tries once and
    /// reports `Empty` if the readiness was spurious (the next
    /// `poll_ready` then registers); TLS reads or registers.
    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        chunk: usize,
    ) -> Poll<io::Result<Fill>> {
        match self {
            Reader::Plain(socket) => Poll::Ready(try_fill(socket, buf, chunk)),
            Reader::Tls(stream) => {
                buf.reserve(chunk);
                let n = ready!(tokio_util::io::poll_read_buf(Pin::new(stream), cx, buf))?;
                Poll::Ready(Ok(if n == 0 { Fill::Eof } else { Fill::Data(n) }))
            }
            Reader::Parked => Poll::Ready(Err(parked())),
        }
    }

    /// Takes what the kernel already has, without waiting. TLS streams
    /// report `Empty`: their next read goes through `fill`.
    pub(crate) fn try_fill(&mut self, buf: &mut BytesMut, chunk: usize) -> io::Result<Fill> {
        match self {
            Reader::Plain(socket) => try_fill(socket, buf, chunk),
            Reader::Tls(_) => Ok(Fill::Empty),
            Reader::Parked => Err(parked()),
        }
    }
}

fn try_fill(socket: &OwnedReadHalf, buf: &mut BytesMut, chunk: usize) -> io::Result<Fill> {
    buf.reserve(chunk);
    match socket.try_read_buf(buf) {
        Ok(0) => Ok(Fill::Eof),
        Ok(n) => Ok(Fill::Data(n)),
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => Ok(Fill::Empty),
        Err(err) => Err(err),
    }
}

impl AsyncWrite for Writer {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Writer::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Writer::Tls(s) => Pin::new(s).poll_write(cx, buf),
            Writer::Parked(_) => Poll::Ready(Err(parked())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Writer::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Writer::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Writer::Parked(_) => Poll::Ready(Err(parked())),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Writer::Plain(s) => s.is_write_vectored(),
            Writer::Tls(s) => s.is_write_vectored(),
            Writer::Parked(_) => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Writer::Plain(s) => Pin::new(s).poll_flush(cx),
            Writer::Tls(s) => Pin::new(s).poll_flush(cx),
            Writer::Parked(_) => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Writer::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Writer::Tls(s) => Pin::new(s).poll_shutdown(cx),
            Writer::Parked(_) => Poll::Ready(Ok(())),
        }
    }
}
