//! Tests of the frame codec: round trips of every message type, byte-exact
//! fixtures, and invalid input that must come back as an error, never a panic.

use proptest::prelude::*;
use proptest::strategy::Union;

use super::*;

// ---------------------------------------------------------------------------
// Strategies: one per message type.
// ---------------------------------------------------------------------------

/// Short strings of any Unicode, including the empty string (which proto3
/// leaves off the wire).
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter)
}

fn user_info() -> impl Strategy<Value = pb::UserInfo> {
    (text(), text()).prop_map(|(username, display_name)| pb::UserInfo {
        username,
        display_name,
    })
}

/// Any error code number, known or not: proto3 enums are open, so an unknown
/// number must survive a round trip too.
fn error_code() -> impl Strategy<Value = i32> {
    prop_oneof![
        prop::sample::select(vec![
            0, 1, 5, 7, 100, 105, 109, 205, 206, 305, 306, 400, 404, 410, 413, 900
        ]),
        any::<i32>(),
    ]
}

/// Any room role number, known or not (open enum, as for [`error_code`]).
fn room_role() -> impl Strategy<Value = i32> {
    prop_oneof![0..=3, any::<i32>()]
}

/// Any leave reason number, known or not.
fn leave_reason() -> impl Strategy<Value = i32> {
    prop_oneof![0..=3, any::<i32>()]
}

fn chat_message() -> impl Strategy<Value = pb::ChatMessage> {
    (
        text(),
        any::<u64>(),
        any::<i64>(),
        prop::option::of(user_info()),
        text(),
    )
        .prop_map(|(room, seq, timestamp_ms, from, text)| pb::ChatMessage {
            room,
            seq,
            timestamp_ms,
            from,
            text,
        })
}

fn room_info() -> impl Strategy<Value = pb::RoomInfo> {
    (
        text(),
        text(),
        any::<bool>(),
        any::<u32>(),
        text(),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(
            |(name, topic, invite_only, member_count, owner, last_seq, room_id)| pb::RoomInfo {
                name,
                topic,
                invite_only,
                member_count,
                owner,
                last_seq,
                room_id,
            },
        )
}

fn member() -> impl Strategy<Value = pb::Member> {
    (prop::option::of(user_info()), room_role(), any::<bool>())
        .prop_map(|(user, role, online)| pb::Member { user, role, online })
}

/// A room name and a username, the pair most room requests carry.
fn room_and_user() -> impl Strategy<Value = (String, String)> {
    (text(), text())
}

/// The strategy for one message type.
///
/// The `match` is exhaustive, so adding a message type to `messages!` does
/// not compile until it has a strategy here; [`any_message`] then covers it
/// through [`MessageType::ALL`].
fn message_of(msg_type: MessageType) -> BoxedStrategy<Message> {
    match msg_type {
        MessageType::Hello => (any::<u32>(), text())
            .prop_map(|(protocol_version, client_name)| {
                Message::Hello(pb::Hello {
                    protocol_version,
                    client_name,
                })
            })
            .boxed(),
        MessageType::Welcome => (
            any::<u32>(),
            text(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(
                |(
                    protocol_version,
                    server_name,
                    max_frame_len,
                    max_text_len,
                    login_timeout_ms,
                    idle_timeout_ms,
                )| {
                    Message::Welcome(pb::Welcome {
                        protocol_version,
                        server_name,
                        max_frame_len,
                        max_text_len,
                        login_timeout_ms,
                        idle_timeout_ms,
                    })
                },
            )
            .boxed(),
        MessageType::Register => (text(), text(), text())
            .prop_map(|(username, password, display_name)| {
                Message::Register(pb::Register {
                    username,
                    password,
                    display_name,
                })
            })
            .boxed(),
        MessageType::Login => (text(), text(), text())
            .prop_map(|(username, password, token)| {
                Message::Login(pb::Login {
                    username,
                    password,
                    token,
                })
            })
            .boxed(),
        MessageType::LoginOk => (
            any::<u64>(),
            prop::option::of(user_info()),
            prop::collection::vec(room_info(), 0..4),
            any::<u32>(),
            text(),
            any::<i64>(),
        )
            .prop_map(
                |(session_id, user, rooms, offline_whispers, session_token, token_expires_ms)| {
                    Message::LoginOk(pb::LoginOk {
                        session_id,
                        user,
                        rooms,
                        offline_whispers,
                        session_token,
                        token_expires_ms,
                    })
                },
            )
            .boxed(),
        MessageType::SetDisplayName => text()
            .prop_map(|display_name| Message::SetDisplayName(pb::SetDisplayName { display_name }))
            .boxed(),
        MessageType::Logout => Just(Message::Logout(pb::Logout {})).boxed(),
        MessageType::ChangePassword => (text(), text())
            .prop_map(|(old_password, new_password)| {
                Message::ChangePassword(pb::ChangePassword {
                    old_password,
                    new_password,
                })
            })
            .boxed(),
        MessageType::PasswordChanged => (text(), any::<i64>())
            .prop_map(|(session_token, token_expires_ms)| {
                Message::PasswordChanged(pb::PasswordChanged {
                    session_token,
                    token_expires_ms,
                })
            })
            .boxed(),
        MessageType::Chat => (text(), text())
            .prop_map(|(room, text)| Message::Chat(pb::Chat { room, text }))
            .boxed(),
        MessageType::ChatAck => (text(), any::<u64>(), any::<i64>())
            .prop_map(|(room, seq, timestamp_ms)| {
                Message::ChatAck(pb::ChatAck {
                    room,
                    seq,
                    timestamp_ms,
                })
            })
            .boxed(),
        MessageType::ChatMessage => chat_message().prop_map(Message::ChatMessage).boxed(),
        MessageType::Whisper => (text(), text())
            .prop_map(|(to_username, text)| Message::Whisper(pb::Whisper { to_username, text }))
            .boxed(),
        MessageType::WhisperAck => (any::<i64>(), any::<bool>())
            .prop_map(|(timestamp_ms, stored)| {
                Message::WhisperAck(pb::WhisperAck {
                    timestamp_ms,
                    stored,
                })
            })
            .boxed(),
        MessageType::WhisperMessage => (
            prop::option::of(user_info()),
            text(),
            any::<i64>(),
            any::<bool>(),
        )
            .prop_map(|(from, text, timestamp_ms, offline)| {
                Message::WhisperMessage(pb::WhisperMessage {
                    from,
                    text,
                    timestamp_ms,
                    offline,
                })
            })
            .boxed(),
        MessageType::ListUsers => Just(Message::ListUsers(pb::ListUsers {})).boxed(),
        MessageType::UserList => prop::collection::vec(user_info(), 0..6)
            .prop_map(|users| Message::UserList(pb::UserList { users }))
            .boxed(),
        MessageType::UserJoined => prop::option::of(user_info())
            .prop_map(|user| Message::UserJoined(pb::UserJoined { user }))
            .boxed(),
        MessageType::UserLeft => prop::option::of(user_info())
            .prop_map(|user| Message::UserLeft(pb::UserLeft { user }))
            .boxed(),
        MessageType::Ping => any::<u64>()
            .prop_map(|nonce| Message::Ping(pb::Ping { nonce }))
            .boxed(),
        MessageType::Pong => any::<u64>()
            .prop_map(|nonce| Message::Pong(pb::Pong { nonce }))
            .boxed(),
        MessageType::Ok => Just(Message::Ok(pb::Ok {})).boxed(),
        MessageType::Error => (error_code(), text(), any::<i64>())
            .prop_map(|(code, message, until_ms)| {
                Message::Error(pb::Error {
                    code,
                    message,
                    until_ms,
                })
            })
            .boxed(),
        MessageType::Kicked => (error_code(), text(), any::<i64>())
            .prop_map(|(code, message, until_ms)| {
                Message::Kicked(pb::Kicked {
                    code,
                    message,
                    until_ms,
                })
            })
            .boxed(),
        MessageType::AdminKick => (text(), text())
            .prop_map(|(username, reason)| Message::AdminKick(pb::AdminKick { username, reason }))
            .boxed(),
        MessageType::AdminBan => (text(), text(), any::<u64>(), text())
            .prop_map(|(username, ip, duration_secs, reason)| {
                Message::AdminBan(pb::AdminBan {
                    username,
                    ip,
                    duration_secs,
                    reason,
                })
            })
            .boxed(),
        MessageType::AdminUnban => (text(), text())
            .prop_map(|(username, ip)| Message::AdminUnban(pb::AdminUnban { username, ip }))
            .boxed(),
        MessageType::AdminMute => (text(), any::<u64>(), text())
            .prop_map(|(username, duration_secs, reason)| {
                Message::AdminMute(pb::AdminMute {
                    username,
                    duration_secs,
                    reason,
                })
            })
            .boxed(),
        MessageType::AdminUnmute => text()
            .prop_map(|username| Message::AdminUnmute(pb::AdminUnmute { username }))
            .boxed(),
        MessageType::AdminRevokeTokens => text()
            .prop_map(|username| Message::AdminRevokeTokens(pb::AdminRevokeTokens { username }))
            .boxed(),
        MessageType::CreateRoom => (text(), text(), any::<bool>())
            .prop_map(|(name, topic, invite_only)| {
                Message::CreateRoom(pb::CreateRoom {
                    name,
                    topic,
                    invite_only,
                })
            })
            .boxed(),
        MessageType::JoinRoom => (text(), any::<u64>(), any::<u32>(), any::<u64>())
            .prop_map(|(name, since_seq, history_limit, room_id)| {
                Message::JoinRoom(pb::JoinRoom {
                    name,
                    since_seq,
                    history_limit,
                    room_id,
                })
            })
            .boxed(),
        MessageType::RoomJoined => (
            prop::option::of(room_info()),
            room_role(),
            prop::collection::vec(chat_message(), 0..4),
            any::<u64>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(room, role, history, last_seq, resumed, reload_required)| {
                    Message::RoomJoined(pb::RoomJoined {
                        room,
                        role,
                        history,
                        last_seq,
                        resumed,
                        reload_required,
                    })
                },
            )
            .boxed(),
        MessageType::LeaveRoom => text()
            .prop_map(|name| Message::LeaveRoom(pb::LeaveRoom { name }))
            .boxed(),
        MessageType::ListRooms => Just(Message::ListRooms(pb::ListRooms {})).boxed(),
        MessageType::RoomList => prop::collection::vec(room_info(), 0..4)
            .prop_map(|rooms| Message::RoomList(pb::RoomList { rooms }))
            .boxed(),
        MessageType::ListMembers => text()
            .prop_map(|room| Message::ListMembers(pb::ListMembers { room }))
            .boxed(),
        MessageType::MemberList => (text(), prop::collection::vec(member(), 0..4))
            .prop_map(|(room, members)| Message::MemberList(pb::MemberList { room, members }))
            .boxed(),
        MessageType::History => (text(), any::<u64>(), any::<u32>())
            .prop_map(|(room, before_seq, limit)| {
                Message::History(pb::History {
                    room,
                    before_seq,
                    limit,
                })
            })
            .boxed(),
        MessageType::HistoryPage => (
            text(),
            prop::collection::vec(chat_message(), 0..4),
            any::<bool>(),
        )
            .prop_map(|(room, messages, has_more)| {
                Message::HistoryPage(pb::HistoryPage {
                    room,
                    messages,
                    has_more,
                })
            })
            .boxed(),
        MessageType::SetTopic => (text(), text())
            .prop_map(|(room, topic)| Message::SetTopic(pb::SetTopic { room, topic }))
            .boxed(),
        MessageType::RoomUpdated => (prop::option::of(room_info()), prop::option::of(user_info()))
            .prop_map(|(room, by)| Message::RoomUpdated(pb::RoomUpdated { room, by }))
            .boxed(),
        MessageType::Invite => room_and_user()
            .prop_map(|(room, username)| Message::Invite(pb::Invite { room, username }))
            .boxed(),
        MessageType::Invited => (text(), prop::option::of(user_info()))
            .prop_map(|(room, by)| Message::Invited(pb::Invited { room, by }))
            .boxed(),
        MessageType::KickMember => (room_and_user(), text())
            .prop_map(|((room, username), reason)| {
                Message::KickMember(pb::KickMember {
                    room,
                    username,
                    reason,
                })
            })
            .boxed(),
        MessageType::BanMember => (room_and_user(), text())
            .prop_map(|((room, username), reason)| {
                Message::BanMember(pb::BanMember {
                    room,
                    username,
                    reason,
                })
            })
            .boxed(),
        MessageType::UnbanMember => room_and_user()
            .prop_map(|(room, username)| Message::UnbanMember(pb::UnbanMember { room, username }))
            .boxed(),
        MessageType::SetRole => (room_and_user(), room_role())
            .prop_map(|((room, username), role)| {
                Message::SetRole(pb::SetRole {
                    room,
                    username,
                    role,
                })
            })
            .boxed(),
        MessageType::RoleChanged => (
            text(),
            prop::option::of(user_info()),
            room_role(),
            prop::option::of(user_info()),
        )
            .prop_map(|(room, user, role, by)| {
                Message::RoleChanged(pb::RoleChanged {
                    room,
                    user,
                    role,
                    by,
                })
            })
            .boxed(),
        MessageType::MemberJoined => (text(), prop::option::of(user_info()), room_role())
            .prop_map(|(room, user, role)| {
                Message::MemberJoined(pb::MemberJoined { room, user, role })
            })
            .boxed(),
        MessageType::MemberLeft => (
            text(),
            prop::option::of(user_info()),
            leave_reason(),
            prop::option::of(user_info()),
            text(),
        )
            .prop_map(|(room, user, reason, by, message)| {
                Message::MemberLeft(pb::MemberLeft {
                    room,
                    user,
                    reason,
                    by,
                    message,
                })
            })
            .boxed(),
        MessageType::DeleteRoom => text()
            .prop_map(|room| Message::DeleteRoom(pb::DeleteRoom { room }))
            .boxed(),
        MessageType::RoomDeleted => (text(), any::<u64>(), prop::option::of(user_info()))
            .prop_map(|(room, room_id, by)| {
                Message::RoomDeleted(pb::RoomDeleted { room, room_id, by })
            })
            .boxed(),
    }
}

/// Any message of any type: a `prop_oneof` (a [`Union`]) over the strategies
/// of every entry of [`MessageType::ALL`].
fn any_message() -> impl Strategy<Value = Message> {
    Union::new(
        MessageType::ALL
            .iter()
            .map(|&msg_type| message_of(msg_type)),
    )
}

/// Request ids, with the edges (0 for pushes, `u32::MAX` for wrapping
/// counters) more likely than chance would make them.
fn request_id() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0u32), Just(1u32), Just(u32::MAX), any::<u32>()]
}

// ---------------------------------------------------------------------------
// Coverage of the message list itself.
// ---------------------------------------------------------------------------

#[test]
fn all_lists_every_wire_number_once() {
    let known: Vec<MessageType> = (0..=u16::MAX).filter_map(MessageType::from_u16).collect();
    assert_eq!(
        known,
        MessageType::ALL,
        "ALL must be every known type, in wire order"
    );
    for &msg_type in MessageType::ALL {
        assert_eq!(MessageType::from_u16(msg_type as u16), Some(msg_type));
    }
}

#[test]
fn strategies_cover_every_message_type() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for &msg_type in MessageType::ALL {
        for _ in 0..8 {
            let tree = message_of(msg_type)
                .new_tree(&mut runner)
                .expect("strategies here never reject");
            assert_eq!(tree.current().msg_type(), msg_type);
        }
    }
}

// ---------------------------------------------------------------------------
// Round trips.
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn round_trip(request_id in request_id(), message in any_message()) {
        let bytes = encode_to_bytes(request_id, &message);
        prop_assert_eq!(bytes.len(), HEADER_LEN + message.body_len());

        let (frame, used) = decode(&bytes, u32::MAX).expect("a frame we encoded decodes");
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(frame, Frame { request_id, message });
    }

    #[test]
    fn encode_into_bufmut_matches_encode_to_bytes(
        request_id in request_id(),
        message in any_message(),
    ) {
        let mut vec = Vec::new();
        encode(request_id, &message, &mut vec);
        prop_assert_eq!(&vec[..], &encode_to_bytes(request_id, &message)[..]);
    }

    #[test]
    fn every_strict_prefix_is_incomplete(request_id in request_id(), message in any_message()) {
        let bytes = encode_to_bytes(request_id, &message);
        for split in 0..bytes.len() {
            prop_assert_eq!(
                decode(&bytes[..split], u32::MAX),
                Err(DecodeError::Incomplete),
                "prefix of {} of {} bytes",
                split,
                bytes.len()
            );
        }
    }

    #[test]
    fn back_to_back_frames_decode_one_at_a_time(
        first in (request_id(), any_message()),
        second in (request_id(), any_message()),
    ) {
        let mut stream = Vec::new();
        encode(first.0, &first.1, &mut stream);
        let first_len = stream.len();
        encode(second.0, &second.1, &mut stream);

        let (frame, used) = decode(&stream, u32::MAX).expect("first frame");
        prop_assert_eq!(used, first_len);
        prop_assert_eq!(frame, Frame { request_id: first.0, message: first.1 });

        let (frame, used) = decode(&stream[used..], u32::MAX).expect("second frame");
        prop_assert_eq!(used, stream.len() - first_len);
        prop_assert_eq!(frame, Frame { request_id: second.0, message: second.1 });
    }
}

// ---------------------------------------------------------------------------
// Arbitrary input never panics.
// ---------------------------------------------------------------------------

/// Checks what any `decode` result must satisfy, whatever the input.
fn check_decode_invariants(src: &[u8], max_body_len: u32) -> Result<(), TestCaseError> {
    let header = parse_header(src, max_body_len);
    match decode(src, max_body_len) {
        Ok((frame, used)) => {
            let header = header
                .expect("decode accepted the header")
                .expect("decode saw a whole header");
            prop_assert_eq!(used, HEADER_LEN + header.body_len as usize);
            prop_assert!(used <= src.len());
            prop_assert_eq!(frame.request_id, header.request_id);
            prop_assert_eq!(frame.message.msg_type() as u16, header.msg_type);
        }
        Err(DecodeError::Header(err)) => prop_assert_eq!(header, Err(err)),
        Err(DecodeError::Incomplete) => prop_assert!(header.is_ok()),
        Err(err) => {
            let header = header
                .expect("recoverable errors come after a valid header")
                .expect("recoverable errors come after a whole header");
            prop_assert_eq!(err.skip_len(), Some(HEADER_LEN + header.body_len as usize));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn arbitrary_bytes_never_panic(
        src in prop::collection::vec(any::<u8>(), 0..64),
        max_body_len in prop_oneof![Just(DEFAULT_MAX_BODY_LEN), Just(0u32), any::<u32>()],
    ) {
        check_decode_invariants(&src, max_body_len)?;
    }

    #[test]
    fn valid_header_then_arbitrary_body_never_panics(
        msg_type in prop_oneof![
            prop::sample::select(MessageType::ALL).prop_map(|t| t as u16),
            any::<u16>(),
        ],
        request_id in request_id(),
        body in prop::collection::vec(any::<u8>(), 0..64),
        // Sometimes the header tells the truth about the body, sometimes not.
        body_len_delta in prop_oneof![Just(0i64), -8i64..8],
    ) {
        let body_len = u32::try_from((body.len() as i64 + body_len_delta).max(0))
            .expect("small by construction");
        let mut src = Vec::new();
        Header { msg_type, request_id, body_len }.put(&mut src);
        src.extend_from_slice(&body);
        check_decode_invariants(&src, DEFAULT_MAX_BODY_LEN)?;
        if body_len_delta == 0 && MessageType::from_u16(msg_type).is_some() {
            // A whole frame of a known type is either a frame or a malformed body.
            match decode(&src, DEFAULT_MAX_BODY_LEN) {
                Ok((_, used)) => prop_assert_eq!(used, src.len()),
                Err(err) => {
                    prop_assert!(matches!(err, DecodeError::MalformedBody { .. }), "{:?}", err);
                    prop_assert_eq!(err.skip_len(), Some(src.len()));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Byte-exact fixtures.
// ---------------------------------------------------------------------------

/// Parses a hex literal such as `"34 01 32 00"`; white space is ignored.
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(
        digits.len() % 2 == 0,
        "odd number of hex digits in {text:?}"
    );
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).expect("hex digits are ASCII");
            u8::from_str_radix(pair, 16).expect("valid hex digits")
        })
        .collect()
}

/// Checks that `message` under `request_id` encodes to exactly `expected`
/// (hex), and that those bytes decode back to the same frame.
fn check(request_id: u32, message: Message, expected: &str) {
    let expected = hex(expected);
    let bytes = encode_to_bytes(request_id, &message);
    assert_eq!(
        bytes[..],
        expected[..],
        "encoding {message:?} (request id {request_id})"
    );
    let (frame, used) = decode(&expected, DEFAULT_MAX_BODY_LEN).expect("fixture decodes");
    assert_eq!(used, expected.len());
    assert_eq!(
        frame,
        Frame {
            request_id,
            message
        }
    );
}

#[test]
fn fixtures() {
    //   magic ver type   request id   body len     body
    check(
        7,
        Message::Ping(pb::Ping { nonce: 1 }),
        "34 01 3200 07000000 02000000 0801",
    );
    check(
        7,
        Message::Pong(pb::Pong { nonce: 1 }),
        "34 01 3300 07000000 02000000 0801",
    );
    // 300 needs a two-byte varint: 0xac 0x02.
    check(
        7,
        Message::Pong(pb::Pong { nonce: 300 }),
        "34 01 3300 07000000 03000000 08ac02",
    );
    // The empty room is proto3's default, so only the text is on the wire.
    // This frame is the annotated example in docs/protocol.md.
    check(
        0x0102_0304,
        Message::Chat(pb::Chat {
            room: String::new(),
            text: "hi".into(),
        }),
        "34 01 1400 04030201 04000000 12026869",
    );
    check(
        1,
        Message::Whisper(pb::Whisper {
            to_username: "bob".into(),
            text: "hi".into(),
        }),
        "34 01 1e00 01000000 09000000 0a03626f62 12026869",
    );
    // Empty bodies: the frame is the header alone.
    check(
        2,
        Message::Logout(pb::Logout {}),
        "34 01 0e00 02000000 00000000",
    );
    check(2, Message::Ok(pb::Ok {}), "34 01 3c00 02000000 00000000");
    // Pushes carry request id 0.
    check(
        0,
        Message::kicked(pb::ErrorCode::SlowConsumer, ""),
        "34 01 3e00 00000000 02000000 0869",
    );
    check(
        9,
        Message::error(pb::ErrorCode::NotAuthenticated, "no"),
        "34 01 3d00 09000000 06000000 0864 12026e6f",
    );
    check(
        u32::MAX,
        Message::Login(pb::Login {
            username: "al".into(),
            password: "pw".into(),
            token: String::new(),
        }),
        "34 01 0b00 ffffffff 08000000 0a02616c 12027077",
    );
    // A Login by token: the empty password is left off the wire, the
    // token is field 3.
    check(
        5,
        Message::Login(pb::Login {
            username: "al".into(),
            password: String::new(),
            token: "tk".into(),
        }),
        "34 01 0b00 05000000 08000000 0a02616c 1a02746b",
    );
    // Rooms. A resume request: since_seq 300 is the varint ac 02, and the
    // default history limit (0) is left off the wire.
    check(
        3,
        Message::JoinRoom(pb::JoinRoom {
            name: "dev".into(),
            since_seq: 300,
            history_limit: 0,
            room_id: 0,
        }),
        "34 01 4700 03000000 08000000 0a03646576 10ac02",
    );
    // A nested UserInfo (field 2, five bytes) and an enum (KICKED = 2); the
    // absent `by` and empty `message` take no bytes.
    check(
        0,
        Message::MemberLeft(pb::MemberLeft {
            room: "dev".into(),
            user: Some(pb::UserInfo {
                username: "bob".into(),
                display_name: String::new(),
            }),
            reason: pb::LeaveReason::Kicked as i32,
            by: None,
            message: String::new(),
        }),
        "34 01 5b00 00000000 0e000000 0a03646576 12050a03626f62 1802",
    );
    // A whisper stored for an offline user: only `stored` is not a default.
    check(
        4,
        Message::WhisperAck(pb::WhisperAck {
            timestamp_ms: 0,
            stored: true,
        }),
        "34 01 1f00 04000000 02000000 1001",
    );
}

// ---------------------------------------------------------------------------
// Invalid input: an error, never a panic.
// ---------------------------------------------------------------------------

/// A header for `msg_type` with the given request id and body length.
fn header_bytes(msg_type: u16, request_id: u32, body_len: u32) -> Vec<u8> {
    let mut buf = Vec::new();
    Header {
        msg_type,
        request_id,
        body_len,
    }
    .put(&mut buf);
    buf
}

#[test]
fn empty_and_magic_only_are_incomplete() {
    assert_eq!(
        decode(&[], DEFAULT_MAX_BODY_LEN),
        Err(DecodeError::Incomplete)
    );
    assert_eq!(parse_header(&[], DEFAULT_MAX_BODY_LEN), Ok(None));
    assert_eq!(
        decode(&[MAGIC], DEFAULT_MAX_BODY_LEN),
        Err(DecodeError::Incomplete)
    );
    assert_eq!(
        decode(&[MAGIC, PROTOCOL_VERSION], DEFAULT_MAX_BODY_LEN),
        Err(DecodeError::Incomplete)
    );
}

#[test]
fn bad_magic_is_detected_from_the_first_byte() {
    for byte in (0..=u8::MAX).filter(|&b| b != MAGIC) {
        let expected = DecodeError::Header(HeaderError::BadMagic(byte));
        assert_eq!(expected.skip_len(), None, "the stream cannot be trusted");
        let expected = Err(expected);
        assert_eq!(decode(&[byte], DEFAULT_MAX_BODY_LEN), expected);
        assert_eq!(
            parse_header(&[byte], DEFAULT_MAX_BODY_LEN),
            Err(HeaderError::BadMagic(byte))
        );
        // The same with a whole, otherwise valid frame behind it.
        let mut frame = encode_to_bytes(1, &Message::Ping(pb::Ping { nonce: 1 })).to_vec();
        frame[0] = byte;
        assert_eq!(decode(&frame, DEFAULT_MAX_BODY_LEN), expected);
    }
}

#[test]
fn bad_version_is_detected_from_two_bytes() {
    for version in (0..=u8::MAX).filter(|&v| v != PROTOCOL_VERSION) {
        let expected = DecodeError::Header(HeaderError::UnsupportedVersion(version));
        assert_eq!(expected.skip_len(), None, "the stream cannot be trusted");
        let expected = Err(expected);
        assert_eq!(decode(&[MAGIC, version], DEFAULT_MAX_BODY_LEN), expected);
        let mut frame = encode_to_bytes(1, &Message::Ping(pb::Ping { nonce: 1 })).to_vec();
        frame[1] = version;
        assert_eq!(decode(&frame, DEFAULT_MAX_BODY_LEN), expected);
    }
}

#[test]
fn frame_too_large_is_detected_from_the_header_alone() {
    for (max, len) in [
        (DEFAULT_MAX_BODY_LEN, DEFAULT_MAX_BODY_LEN + 1),
        (DEFAULT_MAX_BODY_LEN, u32::MAX),
        (0, 1),
        (100, 101),
    ] {
        // Only the 12 header bytes: no body has arrived, and none is needed.
        let header = header_bytes(MessageType::Chat as u16, 5, len);
        let expected = HeaderError::FrameTooLarge { len, max };
        assert_eq!(decode(&header, max), Err(DecodeError::Header(expected)));
        assert_eq!(parse_header(&header, max), Err(expected));
        assert_eq!(DecodeError::Header(expected).skip_len(), None);
        // Until the length field is whole, the header is just incomplete.
        assert_eq!(
            decode(&header[..HEADER_LEN - 1], max),
            Err(DecodeError::Incomplete)
        );
    }
}

#[test]
fn body_len_exactly_at_max_is_accepted() {
    for max in [0, 2, 3, 4, 129, 130, 131, 1000, DEFAULT_MAX_BODY_LEN] {
        let message = message_with_body_len(max as usize);
        let bytes = encode_to_bytes(3, &message);
        assert_eq!(bytes.len(), HEADER_LEN + max as usize);

        let (frame, used) = decode(&bytes, max).expect("a body of exactly max is accepted");
        assert_eq!(used, bytes.len());
        assert_eq!(frame.message, message);

        if max > 0 {
            assert_eq!(
                decode(&bytes, max - 1),
                Err(DecodeError::Header(HeaderError::FrameTooLarge {
                    len: max,
                    max: max - 1
                }))
            );
        }
    }
}

/// A message whose body is exactly `body_len` bytes (never 1: every non-empty
/// field takes at least a tag and a value byte): a Ping for 0 and 2 bytes,
/// otherwise a Chat whose room and text fill the rest. A short room is
/// needed where the text's length varint grows from 1 to 2 bytes.
fn message_with_body_len(body_len: usize) -> Message {
    if let Some(ping) = [0, 1]
        .map(|nonce| Message::Ping(pb::Ping { nonce }))
        .into_iter()
        .find(|m| m.body_len() == body_len)
    {
        return ping;
    }
    (0..3)
        .flat_map(|room_len| (0..body_len).map(move |text_len| (room_len, text_len)))
        .map(|(room_len, text_len)| {
            Message::Chat(pb::Chat {
                room: "r".repeat(room_len),
                text: "x".repeat(text_len),
            })
        })
        .find(|m| m.body_len() == body_len)
        .expect("some room and text length give this body length")
}

#[test]
fn unknown_type_is_skippable() {
    for msg_type in [0u16, 3, 999, u16::MAX] {
        let mut bytes = header_bytes(msg_type, 42, 3);
        bytes.extend_from_slice(&[1, 2, 3]);
        let expected = DecodeError::UnknownType {
            msg_type,
            request_id: 42,
            frame_len: bytes.len(),
        };
        let err = decode(&bytes, DEFAULT_MAX_BODY_LEN).unwrap_err();
        assert_eq!(err, expected);
        assert_eq!(err.skip_len(), Some(bytes.len()));
        // The type is checked from the header alone, before the body arrives,
        // so a receiver that skips must be ready to discard bytes it has not
        // read yet.
        assert_eq!(
            decode(&bytes[..HEADER_LEN], DEFAULT_MAX_BODY_LEN),
            Err(expected)
        );
    }
}

#[test]
fn unknown_type_then_a_valid_frame_stays_in_step() {
    let mut stream = header_bytes(999, 1, 2);
    stream.extend_from_slice(&[0xff, 0xff]);
    let ping = Message::Ping(pb::Ping { nonce: 5 });
    encode(2, &ping, &mut stream);

    let skip = decode(&stream, DEFAULT_MAX_BODY_LEN)
        .unwrap_err()
        .skip_len()
        .expect("unknown types are skippable");
    let (frame, used) = decode(&stream[skip..], DEFAULT_MAX_BODY_LEN).expect("next frame");
    assert_eq!(skip + used, stream.len());
    assert_eq!(
        frame,
        Frame {
            request_id: 2,
            message: ping
        }
    );
}

#[test]
fn malformed_bodies_are_skippable() {
    let cases: &[(MessageType, &[u8])] = &[
        // A varint that never ends.
        (MessageType::Ping, &[0x08, 0xff]),
        (MessageType::Ping, &[0xff]),
        // Field number 0 is invalid in any message, even an empty one.
        (MessageType::Ok, &[0x00]),
        (MessageType::Logout, &[0x00]),
        // A string that is not UTF-8.
        (MessageType::Chat, &[0x12, 0x02, 0xff, 0xfe]),
        // A length-delimited field longer than the body.
        (MessageType::Chat, &[0x12, 0x05, b'h', b'i']),
        // The wrong wire type for a field (length-delimited for a varint).
        (MessageType::Ping, &[0x0a, 0x01, 0x00]),
        // A nested message that is itself garbage.
        (MessageType::UserJoined, &[0x0a, 0x01, 0xff]),
    ];
    for &(msg_type, body) in cases {
        let mut bytes = header_bytes(msg_type as u16, 77, body.len() as u32);
        bytes.extend_from_slice(body);
        match decode(&bytes, DEFAULT_MAX_BODY_LEN) {
            Err(err @ DecodeError::MalformedBody { .. }) => {
                let DecodeError::MalformedBody {
                    msg_type: got_type,
                    request_id,
                    frame_len,
                    ..
                } = &err
                else {
                    unreachable!("matched above");
                };
                assert_eq!(*got_type, msg_type);
                assert_eq!(*request_id, 77);
                assert_eq!(*frame_len, bytes.len());
                assert_eq!(err.skip_len(), Some(bytes.len()));
            }
            other => panic!("{msg_type:?} body {body:02x?}: expected MalformedBody, got {other:?}"),
        }
    }
}

#[test]
fn unknown_fields_are_ignored() {
    // Field 15 (varint) is not in Ping: proto3 skips it, so newer peers can
    // add optional fields within a protocol version.
    let body = [0x08, 0x05, 0x78, 0x01];
    let mut bytes = header_bytes(MessageType::Ping as u16, 1, body.len() as u32);
    bytes.extend_from_slice(&body);
    let (frame, used) = decode(&bytes, DEFAULT_MAX_BODY_LEN).expect("unknown field skipped");
    assert_eq!(used, bytes.len());
    assert_eq!(frame.message, Message::Ping(pb::Ping { nonce: 5 }));
}

#[test]
fn directions() {
    use Direction::*;
    for &msg_type in MessageType::ALL {
        let expected = match msg_type {
            MessageType::Ping | MessageType::Pong => Both,
            MessageType::Hello
            | MessageType::Register
            | MessageType::Login
            | MessageType::SetDisplayName
            | MessageType::Logout
            | MessageType::ChangePassword
            | MessageType::Chat
            | MessageType::Whisper
            | MessageType::ListUsers
            | MessageType::CreateRoom
            | MessageType::JoinRoom
            | MessageType::LeaveRoom
            | MessageType::ListRooms
            | MessageType::ListMembers
            | MessageType::History
            | MessageType::SetTopic
            | MessageType::Invite
            | MessageType::KickMember
            | MessageType::BanMember
            | MessageType::UnbanMember
            | MessageType::SetRole
            | MessageType::DeleteRoom
            | MessageType::AdminKick
            | MessageType::AdminBan
            | MessageType::AdminUnban
            | MessageType::AdminMute
            | MessageType::AdminUnmute
            | MessageType::AdminRevokeTokens => ClientToServer,
            _ => ServerToClient,
        };
        assert_eq!(msg_type.direction(), expected, "{msg_type:?}");
    }
}
