//! The client's room requests against a hand-driven peer: the frame each
//! sends, how each answer is unwrapped, and which pushes become events.

use super::*;

fn user(username: &str) -> Option<pb::UserInfo> {
    Some(pb::UserInfo {
        username: username.into(),
        display_name: String::new(),
    })
}

/// Runs one request against the peer: checks the frame the client sends,
/// answers it with `answer`, and returns what the request returned.
async fn exchange<T: Send + 'static>(
    peer: &mut RawConnection,
    call: impl Future<Output = Result<T, ClientError>> + Send + 'static,
    expected: Message,
    answer: Message,
) -> Result<Result<T, ClientError>, Box<dyn std::error::Error>> {
    let call = tokio::spawn(call);
    let sent = peer.read_frame().await?.expect("a request");
    assert_eq!(sent.message, expected);
    peer.write_frame(sent.request_id, &answer).await?;
    Ok(call.await?)
}

#[tokio::test]
async fn room_requests_send_their_fields_and_unwrap_their_answers() -> TestResult {
    let (client, _events, mut peer) = client_and_peer(ConnectOptions::default()).await?;
    let room_joined = pb::RoomJoined {
        room: Some(pb::RoomInfo {
            name: "dev".into(),
            last_seq: 9,
            ..pb::RoomInfo::default()
        }),
        role: pb::RoomRole::Member as i32,
        last_seq: 9,
        resumed: true,
        ..pb::RoomJoined::default()
    };

    let c = client.clone();
    let res = exchange(
        &mut peer,
        async move { c.join_room("dev", 7, 20).await },
        Message::JoinRoom(pb::JoinRoom {
            name: "dev".into(),
            since_seq: 7,
            history_limit: 20,
            room_id: 0,
        }),
        Message::RoomJoined(room_joined.clone()),
    )
    .await?;
    assert_eq!(res?, room_joined);

    let c = client.clone();
    let res = exchange(
        &mut peer,
        async move { c.create_room("ops", "on call", true).await },
        Message::CreateRoom(pb::CreateRoom {
            name: "ops".into(),
            topic: "on call".into(),
            invite_only: true,
        }),
        Message::RoomJoined(room_joined.clone()),
    )
    .await?;
    assert_eq!(res?, room_joined);

    let c = client.clone();
    let res = exchange(
        &mut peer,
        async move { c.chat_in("dev", "hi").await },
        Message::Chat(pb::Chat {
            room: "dev".into(),
            text: "hi".into(),
        }),
        Message::ChatAck(pb::ChatAck {
            room: "dev".into(),
            seq: 10,
            timestamp_ms: 1,
        }),
    )
    .await?;
    assert_eq!(res?.seq, 10);

    let member = pb::Member {
        user: user("bob"),
        role: pb::RoomRole::Operator as i32,
        online: true,
    };
    let c = client.clone();
    let res = exchange(
        &mut peer,
        async move { c.list_members("dev").await },
        Message::ListMembers(pb::ListMembers { room: "dev".into() }),
        Message::MemberList(pb::MemberList {
            room: "dev".into(),
            members: vec![member.clone()],
        }),
    )
    .await?;
    assert_eq!(res?, [member]);

    let c = client.clone();
    let res = exchange(
        &mut peer,
        async move { c.list_rooms().await },
        Message::ListRooms(pb::ListRooms {}),
        Message::RoomList(pb::RoomList {
            rooms: vec![pb::RoomInfo::default()],
        }),
    )
    .await?;
    assert_eq!(res?, [pb::RoomInfo::default()]);

    let c = client.clone();
    let page = pb::HistoryPage {
        room: "dev".into(),
        messages: Vec::new(),
        has_more: true,
    };
    let res = exchange(
        &mut peer,
        async move { c.history("dev", 100, 25).await },
        Message::History(pb::History {
            room: "dev".into(),
            before_seq: 100,
            limit: 25,
        }),
        Message::HistoryPage(page.clone()),
    )
    .await?;
    assert_eq!(res?, page);

    // The requests answered with Ok, and one refused.
    let ok = || Message::Ok(pb::Ok {});
    let c = client.clone();
    exchange(
        &mut peer,
        async move { c.set_role("dev", "bob", pb::RoomRole::Operator).await },
        Message::SetRole(pb::SetRole {
            room: "dev".into(),
            username: "bob".into(),
            role: 2,
        }),
        ok(),
    )
    .await??;
    let c = client.clone();
    exchange(
        &mut peer,
        async move { c.kick_member("dev", "bob", "spam").await },
        Message::KickMember(pb::KickMember {
            room: "dev".into(),
            username: "bob".into(),
            reason: "spam".into(),
        }),
        ok(),
    )
    .await??;
    let c = client.clone();
    exchange(
        &mut peer,
        async move { c.ban_member("dev", "bob", "").await },
        Message::BanMember(pb::BanMember {
            room: "dev".into(),
            username: "bob".into(),
            reason: String::new(),
        }),
        ok(),
    )
    .await??;
    let c = client.clone();
    exchange(
        &mut peer,
        async move { c.unban_member("dev", "bob").await },
        Message::UnbanMember(pb::UnbanMember {
            room: "dev".into(),
            username: "bob".into(),
        }),
        ok(),
    )
    .await??;
    let c = client.clone();
    exchange(
        &mut peer,
        async move { c.invite("dev", "carol").await },
        Message::Invite(pb::Invite {
            room: "dev".into(),
            username: "carol".into(),
        }),
        ok(),
    )
    .await??;
    let c = client.clone();
    exchange(
        &mut peer,
        async move { c.set_topic("dev", "builds").await },
        Message::SetTopic(pb::SetTopic {
            room: "dev".into(),
            topic: "builds".into(),
        }),
        ok(),
    )
    .await??;
    let c = client.clone();
    let res = exchange(
        &mut peer,
        async move { c.leave_room("").await },
        Message::LeaveRoom(pb::LeaveRoom {
            name: String::new(),
        }),
        Message::error(pb::ErrorCode::LobbyIsSpecial, "no"),
    )
    .await?;
    match res {
        Err(ClientError::Server { code, .. }) => assert_eq!(code, pb::ErrorCode::LobbyIsSpecial),
        other => panic!("expected LOBBY_IS_SPECIAL, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn room_pushes_become_events() -> TestResult {
    let (_client, mut events, mut peer) = client_and_peer(ConnectOptions::default()).await?;
    let updated = pb::RoomUpdated {
        room: Some(pb::RoomInfo {
            name: "dev".into(),
            topic: "new topic".into(),
            ..pb::RoomInfo::default()
        }),
        by: user("alice"),
    };
    let invited = pb::Invited {
        room: "ops".into(),
        by: user("alice"),
    };
    let member_joined = pb::MemberJoined {
        room: "dev".into(),
        user: user("bob"),
        role: pb::RoomRole::Member as i32,
    };
    let role_changed = pb::RoleChanged {
        room: "dev".into(),
        user: user("bob"),
        role: pb::RoomRole::Operator as i32,
        by: user("alice"),
    };
    let member_left = pb::MemberLeft {
        room: "dev".into(),
        user: user("bob"),
        reason: pb::LeaveReason::Banned as i32,
        by: user("alice"),
        message: "spam".into(),
    };
    let whisper = pb::WhisperMessage {
        from: user("carol"),
        text: "while you were out".into(),
        timestamp_ms: 5,
        offline: true,
    };
    for message in [
        Message::RoomUpdated(updated.clone()),
        Message::Invited(invited.clone()),
        Message::MemberJoined(member_joined.clone()),
        Message::RoleChanged(role_changed.clone()),
        Message::MemberLeft(member_left.clone()),
        Message::WhisperMessage(whisper.clone()),
    ] {
        peer.write_frame(0, &message).await?;
    }
    drop(peer);

    let mut got = Vec::new();
    loop {
        match events.next().await {
            Event::Closed => break,
            event => got.push(event),
        }
    }
    assert_eq!(
        got,
        [
            Event::RoomUpdated(updated),
            Event::Invited(invited),
            Event::MemberJoined(member_joined),
            Event::RoleChanged(role_changed),
            Event::MemberLeft(member_left),
            Event::Whisper(whisper),
        ]
    );
    Ok(())
}

#[tokio::test]
async fn history_answers_larger_than_a_request_are_accepted() -> TestResult {
    let (client, _events, mut peer) = client_and_peer(ConnectOptions::default()).await?;
    // 500 messages of 2,000 bytes: the largest History answer by default.
    let page = pb::HistoryPage {
        room: "dev".into(),
        messages: (1..=500)
            .map(|seq| pb::ChatMessage {
                room: "dev".into(),
                seq,
                timestamp_ms: 1,
                from: user("bob"),
                text: "x".repeat(2000),
            })
            .collect(),
        has_more: true,
    };
    let c = client.clone();
    let res = exchange(
        &mut peer,
        async move { c.history("dev", 0, 500).await },
        Message::History(pb::History {
            room: "dev".into(),
            before_seq: 0,
            limit: 500,
        }),
        Message::HistoryPage(page.clone()),
    )
    .await?;
    assert_eq!(res?, page);
    Ok(())
}

#[tokio::test]
async fn close_ends_the_connection_for_every_handle() -> TestResult {
    let (client, mut events, mut peer) = client_and_peer(ConnectOptions::default()).await?;
    peer.write_frame(
        0,
        &Message::UserJoined(pb::UserJoined { user: user("bob") }),
    )
    .await?;
    // Wait until the push has been read, so that it is queued as an event.
    peer.write_frame(0, &ping(1)).await?;
    assert!(matches!(
        peer.read_frame().await?,
        Some(Frame {
            message: Message::Pong(_),
            ..
        })
    ));

    let clone = client.clone();
    client.close();
    assert_eq!(
        events.next().await,
        Event::UserJoined(pb::UserInfo {
            username: "bob".into(),
            display_name: String::new(),
        }),
        "what had arrived is still yielded"
    );
    assert_eq!(events.next().await, Event::Closed);
    assert!(clone.is_closed());
    assert!(matches!(clone.ping().await, Err(ClientError::Closed)));
    assert_eq!(peer.read_frame().await?, None, "the peer sees the end");
    Ok(())
}
