//! The client's address behind a TCP proxy: the PROXY protocol v2 header
//! (HAProxy's binary format) that a trusted proxy sends first on each
//! connection.
//!
//! [`read_v2`] reads exactly the header's bytes, so the Sori frames after
//! it stay in the socket for the session. `ppp` parses the bytes; this
//! module decides what they mean for Sori: LOCAL (a proxy's own health
//! check) keeps the socket's peer address, PROXY for TCP over IPv4 or IPv6
//! names the client, and anything else is refused. Only v2 is read: v1's
//! text header is not accepted.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use ppp::v2::{Addresses, Command, Header, PROTOCOL_PREFIX, ParseError, Protocol};
use tokio::io::{AsyncRead, AsyncReadExt};

#[cfg(test)]
mod tests;

/// Why a connection's PROXY protocol header was refused. The connection is
/// closed: its first bytes cannot be trusted as either a header or frames.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProxyError {
    /// The whole header did not arrive within the timeout.
    #[error("no complete PROXY protocol header within {0:?}")]
    Timeout(Duration),
    /// The connection closed before the header ended.
    #[error("connection closed inside the PROXY protocol header")]
    Truncated,
    /// The first 12 bytes are not the v2 signature.
    #[error("no PROXY protocol v2 signature")]
    BadSignature,
    /// The header has the signature but a bad version, command, address
    /// family or protocol, or a length too short for its addresses.
    #[error("malformed PROXY protocol header")]
    Malformed(#[source] ParseError),
    /// A PROXY command for something other than TCP over IPv4 or IPv6
    /// (UDP, a Unix socket, or an unspecified family).
    #[error("PROXY protocol header for an unsupported transport ({0})")]
    Unsupported(&'static str),
    /// Reading the socket failed.
    #[error("reading the PROXY protocol header")]
    Io(#[source] io::Error),
}

/// The fixed part of a v2 header: the signature, the version and command
/// byte, the family and protocol byte, and the big-endian length of what
/// follows (addresses, then TLVs).
const FIXED_LEN: usize = 16;

/// Reads a PROXY protocol v2 header from the start of `stream`, consuming
/// exactly its bytes. Returns the client's address, or `None` for a LOCAL
/// header (the proxy speaking for itself: use the socket's peer address).
/// TLVs after the addresses are read and ignored.
///
/// Generic over the stream so tests can feed it bytes; the server passes a
/// `TcpStream`. The header is read with exact reads (the signature first,
/// so a client that sends frames instead is refused after 12 bytes), never
/// past its advertised length.
pub(crate) async fn read_v2<S>(
    stream: &mut S,
    timeout: Duration,
) -> Result<Option<SocketAddr>, ProxyError>
where
    S: AsyncRead + Unpin,
{
    let header = tokio::time::timeout(timeout, read_header(stream))
        .await
        .map_err(|_elapsed| ProxyError::Timeout(timeout))??;
    let header = Header::try_from(header.as_slice()).map_err(ProxyError::Malformed)?;
    match header.command {
        Command::Local => Ok(None),
        Command::Proxy => client_addr(header.protocol, header.addresses).map(Some),
    }
}

/// Reads the header's bytes: the fixed part, then as many as its length
/// says. At most 16 + 65,535 bytes, from a trusted proxy only.
async fn read_header<S>(stream: &mut S) -> Result<Vec<u8>, ProxyError>
where
    S: AsyncRead + Unpin,
{
    let mut header = vec![0; FIXED_LEN];
    let (signature, rest) = header.split_at_mut(PROTOCOL_PREFIX.len());
    read_exact(stream, signature).await?;
    if signature != PROTOCOL_PREFIX {
        return Err(ProxyError::BadSignature);
    }
    read_exact(stream, rest).await?;
    let len = u16::from_be_bytes([header[FIXED_LEN - 2], header[FIXED_LEN - 1]]);
    header.resize(FIXED_LEN + usize::from(len), 0);
    read_exact(stream, &mut header[FIXED_LEN..]).await?;
    Ok(header)
}

async fn read_exact<S>(stream: &mut S, buf: &mut [u8]) -> Result<(), ProxyError>
where
    S: AsyncRead + Unpin,
{
    match stream.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Err(ProxyError::Truncated),
        Err(err) => Err(ProxyError::Io(err)),
    }
}

/// The source address of a PROXY header, which Sori accepts for TCP only.
fn client_addr(protocol: Protocol, addresses: Addresses) -> Result<SocketAddr, ProxyError> {
    if protocol != Protocol::Stream {
        return Err(ProxyError::Unsupported("not TCP"));
    }
    match addresses {
        Addresses::IPv4(ip) => Ok(SocketAddr::from((ip.source_address, ip.source_port))),
        Addresses::IPv6(ip) => Ok(SocketAddr::from((ip.source_address, ip.source_port))),
        Addresses::Unix(_) => Err(ProxyError::Unsupported("a Unix socket")),
        Addresses::Unspecified => Err(ProxyError::Unsupported("an unspecified family")),
    }
}
