use std::cell::Cell;

use bytes::{BufMut, Bytes, BytesMut};
use sori_protocol::pb::{self, UserInfo};
use sori_protocol::{Message, decode};

use super::*;

fn joined(name: &str) -> Message {
    Message::UserJoined(pb::UserJoined {
        user: Some(UserInfo {
            username: name.into(),
            display_name: String::new(),
        }),
    })
}

fn left(name: &str) -> Message {
    Message::UserLeft(pb::UserLeft {
        user: Some(UserInfo {
            username: name.into(),
            display_name: String::new(),
        }),
    })
}

/// Every frame in `bytes`, back to back, as (request id, message).
fn frames(mut bytes: &[u8]) -> Vec<(u32, Message)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (frame, len) = decode(bytes, u32::MAX).expect("a whole, valid frame");
        out.push((frame.request_id, frame.message));
        bytes = &bytes[len..];
    }
    out
}

/// A binary WebSocket message around `payload` (server to client, short
/// payloads only: what `sori_ws::frame` writes for them).
fn ws_binary(payload: &Bytes) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_u8(0x82);
    buf.put_u8(u8::try_from(payload.len()).expect("a short payload"));
    buf.put_slice(payload);
    buf.freeze()
}

/// The payloads of the WebSocket messages back to back in `bytes`.
fn ws_messages(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        assert_eq!(bytes[0], 0x82, "a final binary message");
        let len = usize::from(bytes[1]);
        out.push(&bytes[2..2 + len]);
        bytes = &bytes[2 + len..];
    }
    out
}

#[test]
fn a_batch_is_its_frames_back_to_back_in_order() {
    let notices = vec![joined("amy"), left("bo"), joined("bo")];
    let batch = Event::batch(notices.clone()).expect("not empty");
    let pushes: Vec<(u32, Message)> = notices.iter().map(|m| (0, m.clone())).collect();
    assert_eq!(frames(batch.frame()), pushes);
    assert_eq!(batch.messages(), &notices[..]);
    assert_eq!(batch.message(), &notices[0]);
    assert!(Event::batch(Vec::new()).is_none());
}

#[test]
fn a_tail_is_a_slice_of_the_same_bytes() {
    let notices = vec![joined("amy"), left("bo"), joined("cy")];
    let batch = Event::batch(notices.clone()).expect("not empty");
    let tail = batch.tail(1).expect("two left");
    assert_eq!(tail.messages(), &notices[1..]);
    let (whole, part) = (batch.frame(), tail.frame());
    assert_eq!(
        part.as_ptr(),
        whole[whole.len() - part.len()..].as_ptr(),
        "shared, not copied"
    );
    assert_eq!(
        frames(part),
        vec![(0, notices[1].clone()), (0, notices[2].clone())]
    );
    let last = tail.tail(1).expect("one left");
    assert_eq!(last.messages(), &notices[2..]);
    assert!(batch.tail(3).is_none(), "nothing left");
    assert!(tail.tail(2).is_none(), "nothing left");
}

#[test]
fn a_batch_on_websocket_is_one_message_per_frame() {
    let notices = vec![joined("amy"), left("bo"), joined("bo")];
    let batch = Event::batch(notices.clone()).expect("not empty");
    let calls = Cell::new(0);
    let wrap = |frame: &Bytes| {
        calls.set(calls.get() + 1);
        ws_binary(frame)
    };
    let wrapped = batch.wrapped(Wrapping::WebSocket, wrap).clone();
    let payloads = ws_messages(&wrapped);
    assert_eq!(payloads.len(), 3, "one WebSocket message per frame");
    for (payload, notice) in payloads.iter().zip(&notices) {
        assert_eq!(frames(payload), vec![(0, notice.clone())]);
    }
    // A tail shares the wrapped bytes: nothing is wrapped again.
    let tail = batch.tail(2).expect("one left");
    let tail_wrapped = tail.wrapped(Wrapping::WebSocket, wrap);
    assert_eq!(calls.get(), 3, "each frame wrapped once");
    assert_eq!(ws_messages(tail_wrapped).len(), 1);
    assert_eq!(
        &wrapped[wrapped.len() - tail_wrapped.len()..],
        &tail_wrapped[..]
    );
    assert_eq!(
        frames(ws_messages(tail_wrapped)[0]),
        vec![(0, notices[2].clone())]
    );
}

#[test]
fn one_message_wraps_whole() {
    let event = Event::new(7, joined("amy"));
    let wrapped = event.wrapped(Wrapping::WebSocket, ws_binary);
    assert_eq!(ws_messages(wrapped).len(), 1);
    assert_eq!(frames(event.frame()), vec![(7, joined("amy"))]);
    assert_eq!(event.tail(0).expect("all of it").frame(), event.frame());
    assert!(event.tail(1).is_none());
}
