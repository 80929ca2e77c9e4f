//! Tests of what the client does on its own: request ids, framing of reads,
//! routing of frames, and how the end of a connection shows.
//!
//! There is no server here. The peer is a plain socket from a local
//! `TcpListener` that writes hand-encoded frames; the server's behaviour is
//! tested against the real server by `sori-server`'s integration tests.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use sori_protocol::{
    DecodeError, Frame, HEADER_LEN, Header, HeaderError, Message, encode_to_bytes, pb,
};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::pending::{Pending, RequestIds};
use crate::raw::RawConnection;
use crate::{Client, ClientError, ConnectOptions, Event, Events};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A [`Client`] connected to a local listener, and the accepted end of that
/// connection wrapped as a [`RawConnection`].
async fn client_and_peer(
    opts: ConnectOptions,
) -> Result<(Client, Events, RawConnection), ClientError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (connected, accepted) = tokio::join!(Client::connect_with(addr, opts), listener.accept());
    let (client, events) = connected?;
    Ok((client, events, RawConnection::new(accepted?.0)))
}

/// Both ends of a local connection: a [`RawConnection`] and the plain peer.
async fn raw_and_peer() -> Result<(RawConnection, TcpStream), ClientError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (connected, accepted) = tokio::join!(RawConnection::connect(addr), listener.accept());
    Ok((connected?, accepted?.0))
}

fn ping(nonce: u64) -> Message {
    Message::Ping(pb::Ping { nonce })
}

fn frame(request_id: u32, message: Message) -> Frame {
    Frame {
        request_id,
        message,
    }
}

// ---------------------------------------------------------------------------
// Request ids.
// ---------------------------------------------------------------------------

#[test]
fn request_ids_count_from_one() {
    let ids = RequestIds::default();
    assert_eq!([ids.next(), ids.next(), ids.next()], [1, 2, 3]);
}

#[test]
fn request_ids_wrap_and_skip_zero() {
    let ids = RequestIds::starting_at(u32::MAX - 1);
    let got: Vec<u32> = (0..4).map(|_| ids.next()).collect();
    assert_eq!(got, [u32::MAX - 1, u32::MAX, 1, 2]);

    let ids = RequestIds::starting_at(0);
    assert_eq!(ids.next(), 1);
}

#[test]
fn pending_routes_by_id_and_closes() {
    let pending = Pending::starting_at(u32::MAX);
    let (first, mut first_rx) = pending.register().expect("open");
    let (second, mut second_rx) = pending.register().expect("open");
    assert_eq!((first, second), (u32::MAX, 1));

    assert_eq!(pending.complete(second, ping(2)), Ok(()));
    assert_eq!(second_rx.try_recv(), Ok(ping(2)));
    // Nobody waits for it any more.
    assert_eq!(pending.complete(second, ping(3)), Err(Box::new(ping(3))));

    pending.close();
    assert!(pending.is_closed());
    assert!(
        first_rx.try_recv().is_err(),
        "closing fails waiting requests"
    );
    assert!(pending.register().is_none(), "no requests after close");
    assert_eq!(pending.len(), 0);
}

// ---------------------------------------------------------------------------
// RawConnection::read_frame.
// ---------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn raw_reads_a_frame_split_across_two_writes() -> TestResult {
    let (mut raw, mut peer) = raw_and_peer().await?;
    let bytes = encode_to_bytes(7, &ping(1));
    for split in [1, HEADER_LEN - 1, HEADER_LEN, bytes.len() - 1] {
        peer.write_all(&bytes[..split]).await?;
        // Half a frame never makes a frame; the clock is paused, so this
        // times out as soon as the runtime is idle. Cancelling the read must
        // not lose the bytes it took.
        let res = tokio::time::timeout(Duration::from_secs(1), raw.read_frame()).await;
        assert!(res.is_err(), "split at {split}: {res:?}");
        assert_eq!(raw.buffered(), &bytes[..split]);

        peer.write_all(&bytes[split..]).await?;
        assert_eq!(raw.read_frame().await?, Some(frame(7, ping(1))));
        assert!(raw.buffered().is_empty());
    }
    Ok(())
}

#[tokio::test]
async fn raw_reads_two_frames_from_one_write() -> TestResult {
    let (mut raw, mut peer) = raw_and_peer().await?;
    let chat = Message::Chat(pb::Chat {
        room: String::new(),
        text: "hi".into(),
    });
    let mut bytes = encode_to_bytes(1, &ping(9)).to_vec();
    bytes.extend_from_slice(&encode_to_bytes(0, &chat));
    peer.write_all(&bytes).await?;
    drop(peer);

    assert_eq!(raw.read_frame().await?, Some(frame(1, ping(9))));
    assert_eq!(raw.read_frame().await?, Some(frame(0, chat)));
    assert_eq!(raw.read_frame().await?, None, "clean end of stream");
    Ok(())
}

#[tokio::test]
async fn raw_end_of_stream_inside_a_frame_is_an_error() -> TestResult {
    let (mut raw, mut peer) = raw_and_peer().await?;
    let bytes = encode_to_bytes(1, &ping(1));
    peer.write_all(&bytes[..bytes.len() - 1]).await?;
    drop(peer);

    match raw.read_frame().await {
        Err(ClientError::Io(err)) => assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof),
        other => panic!("expected an end-of-stream error, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn raw_bad_header_is_an_error_every_time() -> TestResult {
    let (mut raw, mut peer) = raw_and_peer().await?;
    peer.write_all(b"GET / HTTP/1.1\r\n").await?;

    for _ in 0..2 {
        match raw.read_frame().await {
            Err(ClientError::Protocol(DecodeError::Header(HeaderError::BadMagic(b'G')))) => {}
            other => panic!("expected bad magic, got {other:?}"),
        }
    }
    Ok(())
}

#[tokio::test]
async fn raw_skips_an_unknown_type_once_it_has_arrived() -> TestResult {
    let (mut raw, mut peer) = raw_and_peer().await?;
    let mut unknown = Vec::new();
    Header {
        msg_type: 999,
        request_id: 4,
        body_len: 3,
    }
    .put(&mut unknown);
    unknown.extend_from_slice(&[1, 2, 3]);

    // The header alone: the error waits for the body, so that the stream
    // stays in step.
    peer.write_all(&unknown[..HEADER_LEN]).await?;
    let read = tokio::spawn(async move {
        let first = raw.read_frame().await;
        let second = raw.read_frame().await;
        (first, second)
    });
    tokio::task::yield_now().await;
    peer.write_all(&unknown[HEADER_LEN..]).await?;
    peer.write_all(&encode_to_bytes(5, &ping(5))).await?;

    let (first, second) = read.await?;
    match first {
        Err(ClientError::Protocol(DecodeError::UnknownType {
            msg_type: 999,
            request_id: 4,
            ..
        })) => {}
        other => panic!("expected an unknown type, got {other:?}"),
    }
    assert_eq!(second?, Some(frame(5, ping(5))));
    Ok(())
}

// ---------------------------------------------------------------------------
// Client: routing and the end of the connection.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn events_yield_closed_after_the_peer_closes() -> TestResult {
    let (client, mut events, peer) = client_and_peer(ConnectOptions::default()).await?;
    drop(peer);

    assert_eq!(events.next().await, Event::Closed);
    assert_eq!(events.next().await, Event::Closed, "closed forever after");
    assert_eq!(events.try_next(), Some(Event::Closed));
    assert!(client.is_closed());
    assert!(matches!(client.ping().await, Err(ClientError::Closed)));
    Ok(())
}

#[tokio::test]
async fn pending_request_fails_with_closed_when_the_peer_closes() -> TestResult {
    let (client, _events, mut peer) = client_and_peer(ConnectOptions::default()).await?;
    let request = tokio::spawn(async move { client.ping().await });

    // Wait until the request is on the wire, so that it is pending.
    let sent = peer.read_frame().await?.expect("the ping");
    assert!(matches!(sent.message, Message::Ping(_)));
    drop(peer);

    assert!(matches!(request.await?, Err(ClientError::Closed)));
    Ok(())
}

#[tokio::test]
async fn responses_are_routed_by_request_id_and_pushes_become_events() -> TestResult {
    let (client, mut events, mut peer) = client_and_peer(ConnectOptions::default()).await?;
    let pinger = client.clone();
    let ping = tokio::spawn(async move { pinger.ping().await });
    let lister = client.clone();
    let list = tokio::spawn(async move { lister.list_users().await });
    let chatter = client.clone();
    let chat = tokio::spawn(async move { chatter.chat("hello").await });

    // Collect the three requests, in whatever order the tasks sent them.
    let (mut ping_req, mut list_id, mut chat_id) = (None, None, None);
    for _ in 0..3 {
        let sent = peer.read_frame().await?.expect("a request");
        assert_ne!(sent.request_id, 0, "requests never use id 0");
        match sent.message {
            Message::Ping(ping) => ping_req = Some((sent.request_id, ping.nonce)),
            Message::ListUsers(_) => list_id = Some(sent.request_id),
            Message::Chat(chat) => {
                assert_eq!((chat.room.as_str(), chat.text.as_str()), ("", "hello"));
                chat_id = Some(sent.request_id);
            }
            other => panic!("unexpected request {other:?}"),
        }
    }
    let ((ping_id, nonce), list_id, chat_id) = (
        ping_req.expect("ping sent"),
        list_id.expect("list sent"),
        chat_id.expect("chat sent"),
    );

    // Answer in the reverse order, with pushes in between.
    let alice = pb::UserInfo {
        username: "alice".into(),
        display_name: "Alice".into(),
    };
    let pushed = pb::ChatMessage {
        room: String::new(),
        seq: 1,
        timestamp_ms: 5,
        from: Some(alice.clone()),
        text: "hey".into(),
    };
    peer.write_frame(0, &Message::ChatMessage(pushed.clone()))
        .await?;
    peer.write_frame(
        chat_id,
        &Message::error(pb::ErrorCode::NotAuthenticated, "log in first"),
    )
    .await?;
    peer.write_frame(
        0,
        &Message::UserJoined(pb::UserJoined {
            user: Some(alice.clone()),
        }),
    )
    .await?;
    peer.write_frame(
        list_id,
        &Message::UserList(pb::UserList {
            users: vec![alice.clone()],
        }),
    )
    .await?;
    peer.write_frame(0, &Message::error(pb::ErrorCode::MalformedBody, "bad"))
        .await?;
    peer.write_frame(ping_id, &Message::Pong(pb::Pong { nonce }))
        .await?;
    peer.write_frame(0, &Message::kicked(pb::ErrorCode::ShuttingDown, "bye"))
        .await?;

    assert!(ping.await?.is_ok());
    assert_eq!(list.await??, vec![alice.clone()]);
    match chat.await? {
        Err(ClientError::Server { code, message, .. }) => {
            assert_eq!(code, pb::ErrorCode::NotAuthenticated);
            assert_eq!(message, "log in first");
        }
        other => panic!("expected a server error, got {other:?}"),
    }
    assert_eq!(events.next().await, Event::Chat(pushed));
    assert_eq!(events.next().await, Event::UserJoined(alice));
    assert_eq!(
        events.next().await,
        Event::Error {
            code: pb::ErrorCode::MalformedBody,
            message: "bad".into()
        }
    );
    assert_eq!(
        events.next().await,
        Event::Kicked {
            code: pb::ErrorCode::ShuttingDown,
            message: "bye".into(),
            until_ms: 0,
        }
    );
    assert_eq!(events.try_next(), None);
    drop(peer);
    assert_eq!(events.next().await, Event::Closed);
    Ok(())
}

#[tokio::test]
async fn wrong_response_type_is_unexpected() -> TestResult {
    let (client, _events, mut peer) = client_and_peer(ConnectOptions::default()).await?;
    let request = tokio::spawn(async move { client.login("alice", "password1").await });
    let sent = peer.read_frame().await?.expect("the login");
    peer.write_frame(sent.request_id, &Message::Ok(pb::Ok {}))
        .await?;

    match request.await? {
        Err(ClientError::Unexpected(message)) => assert_eq!(*message, Message::Ok(pb::Ok {})),
        other => panic!("expected an unexpected response, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn server_ping_is_answered_with_pong() -> TestResult {
    let (_client, _events, mut peer) = client_and_peer(ConnectOptions::default()).await?;
    peer.write_frame(0, &ping(77)).await?;
    assert_eq!(
        peer.read_frame().await?,
        Some(frame(0, Message::Pong(pb::Pong { nonce: 77 })))
    );
    Ok(())
}

#[tokio::test]
async fn undecodable_frame_closes_the_connection() -> TestResult {
    let (client, mut events, mut peer) = client_and_peer(ConnectOptions::default()).await?;
    peer.write_bytes(&[0x00; HEADER_LEN]).await?;

    assert_eq!(events.next().await, Event::Closed);
    assert!(client.is_closed());
    // The client hung up: the peer sees the end of the stream.
    assert_eq!(peer.read_frame().await?, None);
    Ok(())
}

#[tokio::test]
async fn dropping_every_handle_closes_the_sending_side() -> TestResult {
    let (client, mut events, mut peer) = client_and_peer(ConnectOptions::default()).await?;
    let clone = client.clone();
    client.send_raw(&encode_to_bytes(0, &ping(1))).await?;
    drop(client);
    assert_eq!(peer.read_frame().await?, Some(frame(0, ping(1))));
    drop(clone);

    assert_eq!(
        peer.read_frame().await?,
        None,
        "end of stream once no handle is left"
    );
    // Reading goes on until the peer closes too.
    peer.write_frame(0, &Message::UserLeft(pb::UserLeft { user: None }))
        .await?;
    assert_eq!(
        events.next().await,
        Event::UserLeft(pb::UserInfo::default())
    );
    drop(peer);
    assert_eq!(events.next().await, Event::Closed);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn request_times_out_and_a_late_answer_is_ignored() -> TestResult {
    let opts = ConnectOptions {
        request_timeout: Duration::from_secs(3),
        ..ConnectOptions::default()
    };
    let (client, _events, mut peer) = client_and_peer(opts).await?;

    assert!(matches!(client.ping().await, Err(ClientError::Timeout)));
    let late = peer.read_frame().await?.expect("the first ping");
    let Message::Ping(late_ping) = late.message else {
        panic!("expected a ping, got {late:?}");
    };

    let pinger = client.clone();
    let second = tokio::spawn(async move { pinger.ping().await });
    let sent = peer.read_frame().await?.expect("the second ping");
    assert_ne!(sent.request_id, late.request_id);
    let Message::Ping(second_ping) = sent.message else {
        panic!("expected a ping, got {sent:?}");
    };
    // The late answer to the first ping is dropped; the second is routed.
    peer.write_frame(
        late.request_id,
        &Message::Pong(pb::Pong {
            nonce: late_ping.nonce,
        }),
    )
    .await?;
    peer.write_frame(
        sent.request_id,
        &Message::Pong(pb::Pong {
            nonce: second_ping.nonce,
        }),
    )
    .await?;
    assert!(second.await?.is_ok());
    Ok(())
}

#[tokio::test]
async fn binds_the_requested_source_address() -> TestResult {
    let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let opts = ConnectOptions {
        local_addr: Some(source),
        ..ConnectOptions::default()
    };
    let (client, _events, peer) = client_and_peer(opts).await?;
    assert_eq!(client.local_addr().ip(), source);
    let seen_by_peer: SocketAddr = peer.stream().peer_addr()?;
    assert_eq!(seen_by_peer, client.local_addr());
    Ok(())
}

/// Rooms: requests, answers and pushes.
mod rooms;
