//! The opening handshake (RFC 6455 §4): parsing the client's HTTP/1.1 upgrade
//! request, answering it, and the two policies the listener applies before
//! accepting: the Origin check and the client address behind trusted proxies.
//!
//! Parsing is sans-I/O: [`parse_request`] reads from a byte buffer and tells
//! "need more bytes" (`Ok(None)`) apart from a bad request. No subprotocol or
//! extension is ever negotiated, so the accept response has neither.

use std::net::{IpAddr, SocketAddr};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use ipnet::IpNet;
use sha1::{Digest, Sha1};

/// The GUID that RFC 6455 appends to the key before hashing it.
const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The most headers a request may have; a browser sends about fifteen.
const MAX_HEADERS: usize = 64;

/// The client's upgrade request, parsed but not yet judged: see
/// [`Request::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The request method, for `validate` (it must be GET).
    method: String,
    /// The request target, query string included.
    path: String,
    /// The HTTP minor version: 1 for HTTP/1.1.
    version: u8,
    host: Option<String>,
    origin: Option<String>,
    /// Every X-Forwarded-For header's raw value, in order.
    x_forwarded_for: Vec<String>,
    sec_websocket_key: Option<String>,
    sec_websocket_version: Option<String>,
    /// Whether an `Upgrade` header names `websocket`.
    upgrade_websocket: bool,
    /// Whether a `Connection` header lists `upgrade`.
    connection_upgrade: bool,
    /// Whether a `Connection` header lists `close`.
    connection_close: bool,
    /// Whether the request says it has a body (a `Content-Length` other
    /// than 0, or a `Transfer-Encoding`).
    has_body: bool,
    /// The `If-None-Match` header, if any: the versions of a file the
    /// client already has.
    if_none_match: Option<String>,
}

/// Why a request could not be parsed at all.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The bytes are not an HTTP/1.x request.
    #[error("malformed http request: {0}")]
    Malformed(#[from] httparse::Error),
    /// The request head is longer than the limit.
    #[error("request head exceeds {max} bytes")]
    TooLarge {
        /// The limit that was passed in.
        max: usize,
    },
    /// A header the handshake reads is not valid UTF-8.
    #[error("header {0} is not valid utf-8")]
    InvalidHeader(&'static str),
    /// A header the handshake reads appears twice, which would make the
    /// Origin check or the key ambiguous.
    #[error("header {0} appears more than once")]
    DuplicateHeader(&'static str),
    /// The connection closed before the request head was complete.
    #[error("connection closed during the handshake")]
    Eof,
    /// Reading from the connection failed.
    #[error("reading the handshake: {0}")]
    Io(#[from] std::io::Error),
}

/// Why a well-formed request is not an acceptable WebSocket upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UpgradeError {
    /// The method is not GET.
    #[error("method must be GET")]
    NotGet,
    /// The request is HTTP/1.0.
    #[error("http/1.1 required")]
    NotHttp11,
    /// No `Upgrade: websocket` header: probably a plain HTTP request.
    #[error("upgrade: websocket required")]
    NoUpgrade,
    /// The `Connection` header does not list `upgrade`.
    #[error("connection: upgrade required")]
    NoConnectionUpgrade,
    /// Sec-WebSocket-Version is missing or not 13.
    #[error("sec-websocket-version 13 required")]
    UnsupportedVersion,
    /// Sec-WebSocket-Key is missing or not 16 bytes in base64.
    #[error("invalid sec-websocket-key")]
    BadKey,
}

impl UpgradeError {
    /// The HTTP status to reject with: 426 (with `Sec-WebSocket-Version: 13`,
    /// see [`reject_response`]) for a missing upgrade or a wrong version, so a
    /// client can retry correctly; 400 otherwise.
    pub fn status(self) -> u16 {
        match self {
            UpgradeError::NoUpgrade | UpgradeError::UnsupportedVersion => 426,
            _ => 400,
        }
    }
}

impl Request {
    /// The request target, query string included.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The Host header, if any.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The Origin header, if any (browsers always send one).
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// Every X-Forwarded-For header's raw value, in order; each may be a
    /// comma-separated list. Meaningful only from a trusted proxy: see
    /// [`client_ip`].
    pub fn x_forwarded_for(&self) -> &[String] {
        &self.x_forwarded_for
    }

    /// The Sec-WebSocket-Key header, trimmed, if any.
    pub fn sec_websocket_key(&self) -> Option<&str> {
        self.sec_websocket_key.as_deref()
    }

    /// Checks that this is a valid WebSocket upgrade: GET, HTTP/1.1,
    /// `Upgrade: websocket`, `Connection` listing `upgrade`,
    /// `Sec-WebSocket-Version: 13` and a key of 16 bytes in base64.
    pub fn validate(&self) -> Result<(), UpgradeError> {
        if self.method != "GET" {
            return Err(UpgradeError::NotGet);
        }
        if self.version != 1 {
            return Err(UpgradeError::NotHttp11);
        }
        if !self.upgrade_websocket {
            return Err(UpgradeError::NoUpgrade);
        }
        if !self.connection_upgrade {
            return Err(UpgradeError::NoConnectionUpgrade);
        }
        if self.sec_websocket_version.as_deref() != Some("13") {
            return Err(UpgradeError::UnsupportedVersion);
        }
        let key = self
            .sec_websocket_key
            .as_deref()
            .ok_or(UpgradeError::BadKey)?;
        match BASE64.decode(key) {
            Ok(raw) if raw.len() == 16 => Ok(()),
            _ => Err(UpgradeError::BadKey),
        }
    }

    /// Whether [`Request::validate`] accepts it.
    pub fn is_websocket_upgrade(&self) -> bool {
        self.validate().is_ok()
    }

    /// Whether this is a plain GET or HEAD, with no `Upgrade: websocket`:
    /// a browser asking for a file, not for a WebSocket (of any HTTP/1.x).
    pub fn is_plain_get(&self) -> bool {
        (self.method == "GET" || self.is_head()) && !self.upgrade_websocket
    }

    /// Whether the method is HEAD: the answer's head, without its body.
    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }

    /// Whether `If-None-Match` names `etag` (a quoted entity tag, as the
    /// server sent it) or is `*`: the client has this version already.
    /// Weak tags match too (RFC 9110 §13.1.2 compares them weakly).
    pub fn has_version(&self, etag: &str) -> bool {
        self.if_none_match.as_deref().is_some_and(|value| {
            value
                .split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
        })
    }

    /// Whether the connection may carry another request after this one's
    /// answer: HTTP/1.1, no `Connection: close`, and no body (the server
    /// reads none, so the next request would start inside it).
    pub fn keeps_alive(&self) -> bool {
        self.version == 1 && !self.connection_close && !self.has_body
    }
}

/// Parses the request head at the front of `buf`.
///
/// Returns the request and the length of its head, or `None` if the head is
/// not complete yet. Whatever follows the head (a pipelined first frame) is
/// not looked at. A head longer than `max_header_bytes` is an error, even
/// before it is complete.
pub fn parse_request(
    buf: &[u8],
    max_header_bytes: usize,
) -> Result<Option<(Request, usize)>, HandshakeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let head_len = match parsed.parse(buf)? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial if buf.len() >= max_header_bytes => {
            return Err(HandshakeError::TooLarge {
                max: max_header_bytes,
            });
        }
        httparse::Status::Partial => return Ok(None),
    };
    if head_len > max_header_bytes {
        return Err(HandshakeError::TooLarge {
            max: max_header_bytes,
        });
    }
    let mut request = Request {
        // A complete parse always has these; empty values fail `validate`.
        method: parsed.method.unwrap_or_default().to_owned(),
        path: parsed.path.unwrap_or_default().to_owned(),
        version: parsed.version.unwrap_or_default(),
        host: None,
        origin: None,
        x_forwarded_for: Vec::new(),
        sec_websocket_key: None,
        sec_websocket_version: None,
        upgrade_websocket: false,
        connection_upgrade: false,
        connection_close: false,
        has_body: false,
        if_none_match: None,
    };
    for header in parsed.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("host") {
            set_once(&mut request.host, "host", header.value)?;
        } else if name.eq_ignore_ascii_case("origin") {
            set_once(&mut request.origin, "origin", header.value)?;
        } else if name.eq_ignore_ascii_case("sec-websocket-key") {
            set_once(
                &mut request.sec_websocket_key,
                "sec-websocket-key",
                header.value,
            )?;
        } else if name.eq_ignore_ascii_case("sec-websocket-version") {
            set_once(
                &mut request.sec_websocket_version,
                "sec-websocket-version",
                header.value,
            )?;
        } else if name.eq_ignore_ascii_case("x-forwarded-for") {
            let value = header_str("x-forwarded-for", header.value)?;
            request.x_forwarded_for.push(value.to_owned());
        } else if name.eq_ignore_ascii_case("upgrade") {
            request.upgrade_websocket |= lists_token(header.value, "websocket");
        } else if name.eq_ignore_ascii_case("connection") {
            request.connection_upgrade |= lists_token(header.value, "upgrade");
            request.connection_close |= lists_token(header.value, "close");
        } else if name.eq_ignore_ascii_case("content-length") {
            request.has_body |= header.value.trim_ascii() != b"0";
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            request.has_body = true;
        } else if name.eq_ignore_ascii_case("if-none-match") {
            // A list: several headers are one, joined (RFC 9110 §5.3).
            let value = header_str("if-none-match", header.value)?.trim();
            match &mut request.if_none_match {
                Some(tags) => {
                    tags.push_str(", ");
                    tags.push_str(value);
                }
                None => request.if_none_match = Some(value.to_owned()),
            }
        }
    }
    Ok(Some((request, head_len)))
}

/// Reads from `stream` into `buf` until a whole request head has arrived, and
/// parses it. The head is consumed from `buf`; any bytes after it (a first
/// frame the client pipelined) stay there for the decoder.
///
/// Cancel-safe: the bytes read so far stay in `buf`, so calling it again
/// resumes where it stopped.
#[cfg(feature = "tokio")]
pub async fn read_request<S>(
    stream: &mut S,
    buf: &mut bytes::BytesMut,
    max_header_bytes: usize,
) -> Result<Request, HandshakeError>
where
    S: tokio::io::AsyncRead + Unpin,
{
    use bytes::Buf;
    use tokio::io::AsyncReadExt;

    loop {
        if let Some((request, head_len)) = parse_request(buf, max_header_bytes)? {
            buf.advance(head_len);
            return Ok(request);
        }
        buf.reserve(1024);
        if stream.read_buf(buf).await? == 0 {
            return Err(HandshakeError::Eof);
        }
    }
}

/// Computes Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64 of the SHA-1
/// of the key followed by the RFC 6455 GUID.
pub fn accept_key(key: &str) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(WEBSOCKET_GUID.as_bytes());
    BASE64.encode(sha1.finalize())
}

/// The 101 Switching Protocols response accepting `request`, with no
/// subprotocol and no extensions. Call it only for a request that
/// [`Request::validate`] accepts.
pub fn accept_response(request: &Request) -> Bytes {
    let accept = accept_key(request.sec_websocket_key().unwrap_or_default());
    Bytes::from(format!(
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    ))
}

/// A response refusing the upgrade, with `Connection: close` and `reason` as
/// a short plain-text body. Meant for 400, 403, 404 and 426; a 426 also
/// carries `Upgrade: websocket` and `Sec-WebSocket-Version: 13`.
pub fn reject_response(status: u16, reason: &str) -> Bytes {
    let phrase = match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let upgrade = if status == 426 {
        "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    } else {
        ""
    };
    let body = format!("{reason}\n");
    Bytes::from(format!(
        "HTTP/1.1 {status} {phrase}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {len}\r\n\
         Connection: close\r\n\
         {upgrade}\r\n\
         {body}",
        len = body.len(),
    ))
}

/// Whether a request with this Origin (and Host) header may connect.
///
/// - No Origin header: allowed, since only browsers send one, and the check
///   exists to stop other sites' pages from using a visitor's browser.
/// - `allowed` empty: same host only, so the Origin's `host[:port]` must equal
///   the Host header (case-insensitive).
/// - `"*"` in `allowed`: any origin.
/// - Otherwise the full origin (`scheme://host[:port]`) must equal an entry
///   (case-insensitive).
pub fn origin_allowed(origin: Option<&str>, host: Option<&str>, allowed: &[String]) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    if allowed.is_empty() {
        let Some(host) = host else {
            return false;
        };
        // A serialized origin is `scheme://host[:port]`; an opaque one is
        // `null`, which no Host matches.
        let Some((_scheme, authority)) = origin.split_once("://") else {
            return false;
        };
        return !authority.is_empty() && authority.eq_ignore_ascii_case(host.trim());
    }
    allowed
        .iter()
        .any(|entry| entry == "*" || entry.eq_ignore_ascii_case(origin))
}

/// The client's address: `peer` itself unless `peer` is a trusted proxy, in
/// which case the X-Forwarded-For chain is walked from the right.
///
/// Each proxy appends the address it received from, so the rightmost entries
/// are the most trustworthy. Trusted addresses are skipped and the first
/// untrusted one is the client. An entry that is not an address (a `port` is
/// tolerated) stops the walk at the last trusted hop, since anything further
/// left may be forged; if every hop is trusted, the leftmost is the client.
/// IPv4-mapped IPv6 addresses are compared as IPv4.
pub fn client_ip<S: AsRef<str>>(peer: IpAddr, x_forwarded_for: &[S], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip));
    let mut last_trusted = peer.to_canonical();
    if !is_trusted(last_trusted) {
        return last_trusted;
    }
    let entries = x_forwarded_for
        .iter()
        .rev()
        .flat_map(|value| value.as_ref().rsplit(','));
    for entry in entries {
        let Some(ip) = parse_forwarded_ip(entry.trim()) else {
            return last_trusted;
        };
        if !is_trusted(ip) {
            return ip;
        }
        last_trusted = ip;
    }
    last_trusted
}

/// Parses one X-Forwarded-For entry: an address, or an address with a port.
fn parse_forwarded_ip(entry: &str) -> Option<IpAddr> {
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|addr| addr.ip()))?;
    Some(ip.to_canonical())
}

/// Stores a header value that may appear only once.
fn set_once(
    slot: &mut Option<String>,
    name: &'static str,
    value: &[u8],
) -> Result<(), HandshakeError> {
    if slot.is_some() {
        return Err(HandshakeError::DuplicateHeader(name));
    }
    *slot = Some(header_str(name, value)?.trim().to_owned());
    Ok(())
}

/// A header value as text.
fn header_str<'a>(name: &'static str, value: &'a [u8]) -> Result<&'a str, HandshakeError> {
    std::str::from_utf8(value).map_err(|_| HandshakeError::InvalidHeader(name))
}

/// Whether a comma-separated header value lists `token` (case-insensitive).
fn lists_token(value: &[u8], token: &str) -> bool {
    value
        .split(|&byte| byte == b',')
        .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

#[cfg(test)]
mod tests;
