//! The browser client's files, embedded at build time from `web/` and
//! served on the WebSocket listener beside `/ws`, so a bare server serves a
//! page that chats with it.

use std::fmt::Write;
use std::time::Duration;

use bytes::Bytes;
use rust_embed::Embed;

/// Every file under `web/`.
#[derive(Embed)]
#[folder = "../../web/"]
#[exclude = "*.md"]
struct Assets;

/// What every page is served with: nothing but the page's own scripts,
/// styles and connections; no framing, no sniffing.
const SECURITY_HEADERS: &str = "Content-Security-Policy: default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; manifest-src 'self'; \
base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n\
X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n";

/// How long a connection that was served a file waits for the next
/// request before it closes.
pub(crate) const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(5);

/// Most file requests one connection is served; it closes after the last.
pub(crate) const MAX_REQUESTS: u32 = 100;

/// The response to a plain (not upgrade) GET or HEAD, if its path names a
/// file of the page ("/" is index.html). With `keep_alive` the connection
/// stays open for the next request (a page loads some twenty files: one
/// connection each would take half the default new-connection burst of an
/// address).
///
/// Each file carries an `ETag` (from its hash, fixed at build time); a
/// request whose `If-None-Match` names it gets `304 Not Modified` and no
/// body, so a reload costs a round trip per file, not the page again.
pub(crate) fn response(request: &sori_ws::Request, keep_alive: bool) -> Option<Bytes> {
    let path = request.path().split(['?', '#']).next().unwrap_or_default();
    let name = match path.trim_start_matches('/') {
        "" => "index.html",
        name => name,
    };
    let file = Assets::get(name)?;
    let etag = etag(&file.metadata.sha256_hash());
    let connection = if keep_alive {
        format!(
            "Connection: keep-alive\r\nKeep-Alive: timeout={}, max={MAX_REQUESTS}\r\n",
            KEEP_ALIVE_IDLE.as_secs()
        )
    } else {
        "Connection: close\r\n".to_owned()
    };
    if request.has_version(&etag) {
        let head = format!(
            "HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nCache-Control: no-cache\r\n\
             {SECURITY_HEADERS}{connection}\r\n"
        );
        return Some(Bytes::from(head));
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nETag: {etag}\r\n\
         Cache-Control: no-cache\r\n{SECURITY_HEADERS}{connection}\r\n",
        content_type(name),
        file.data.len()
    );
    if request.is_head() {
        return Some(Bytes::from(head));
    }
    let mut out = Vec::with_capacity(head.len() + file.data.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(&file.data);
    Some(Bytes::from(out))
}

/// A file's entity tag: the first half of its SHA-256, in hex, quoted.
fn etag(hash: &[u8; 32]) -> String {
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for byte in &hash[..16] {
        let _ = write!(tag, "{byte:02x}");
    }
    tag.push('"');
    tag
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "webmanifest" => "application/manifest+json",
        _ => "text/plain; charset=utf-8",
    }
}
