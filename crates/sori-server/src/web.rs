//! The browser client's files, embedded at build time from `web/` and
//! served on the WebSocket listener beside `/ws`, so a bare server serves a
//! page that chats with it.

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

/// The response to a plain (not upgrade) GET of `path`, if `path` names a
/// file of the page ("/" is index.html).
pub(crate) fn response(path: &str) -> Option<Bytes> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let name = match path.trim_start_matches('/') {
        "" => "index.html",
        name => name,
    };
    let file = Assets::get(name)?;
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
         Cache-Control: no-cache\r\n{SECURITY_HEADERS}Connection: close\r\n\r\n",
        content_type(name),
        file.data.len()
    );
    let mut out = Vec::with_capacity(head.len() + file.data.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(&file.data);
    Some(Bytes::from(out))
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
