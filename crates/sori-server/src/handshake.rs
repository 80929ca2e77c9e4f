//! A new connection's way to its session: the TLS handshake and the
//! WebSocket upgrade where its listener asks for them, both within the login
//! timeout, then the session task (`handler`).

use std::net::IpAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::connection::Connection;
use crate::handler::session;
use crate::link::Format;
use crate::shared::{Kind, Place, Shared};
use crate::transport;
use crate::upgrade;

/// Serves one accepted connection, in a task of its own, until it ends.
pub(crate) fn spawn(
    shared: &Arc<Shared>,
    stream: TcpStream,
    kind: Kind,
    ip: IpAddr,
    mut place: Place,
    accepted_at: Instant,
) {
    // Frames are batched by the writer; Nagle would only add latency.
    let _ = stream.set_nodelay(true);
    let peer_addr = stream.peer_addr().ok();
    let login_deadline = accepted_at + shared.config.login_timeout;
    if shared.tls.is_none() && kind == Kind::Tcp {
        let (read_half, write_half) = transport::plain(stream);
        let conn = Connection::new(read_half);
        let task = session(
            shared.clone(),
            conn,
            write_half,
            ip,
            Format::Sori,
            place,
            accepted_at,
        );
        shared.tracker.spawn(task);
        return;
    }
    // A handshake (TLS, WebSocket, or both) comes first; it counts against
    // the login timeout. Boxed: its state is large and only needed until
    // the handshake is done.
    let owned = shared.clone();
    let task = Box::pin(async move {
        let (read_half, write_half) = match &owned.tls {
            None => transport::plain(stream),
            Some(acceptor) => {
                match tokio::time::timeout_at(login_deadline, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => transport::tls(stream),
                    Ok(Err(err)) => {
                        tracing::debug!(?peer_addr, %err, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(?peer_addr, "TLS handshake timed out");
                        return;
                    }
                }
            }
        };
        let (conn, write_half, ip, format, since) = match kind {
            Kind::Tcp => (
                Connection::new(read_half),
                write_half,
                ip,
                Format::Sori,
                accepted_at,
            ),
            Kind::WebSocket => {
                let upgraded =
                    upgrade::accept(&owned, read_half, write_half, ip, &mut place, accepted_at)
                        .await;
                match upgraded {
                    Some(up) => (up.conn, up.write_half, up.ip, Format::WebSocket, up.since),
                    None => return,
                }
            }
        };
        // The login timeout counts from the upgrade's request on a
        // connection that was served the page's files first.
        session(owned, conn, write_half, ip, format, place, since).await;
    });
    shared.tracker.spawn(task);
}
