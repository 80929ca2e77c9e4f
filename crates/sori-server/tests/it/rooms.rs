//! Rooms: order under concurrent senders, roles, limits, invite-only rooms,
//! history, durability, and what survives a restart.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sori_client::{Client, Event, Events};
use sori_core::config::RoomLimits;
use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode, LeaveReason, RoomRole};
use sori_store::SqliteStore;
use tokio::task::JoinSet;

use crate::support::{self, PASSWORD, next_chat_in, next_where, server_code};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_members_see_one_order_while_ten_send_at_once() {
    const MEMBERS: usize = 100;
    const SENDERS: usize = 10;
    const PER_SENDER: usize = 30;
    const TOTAL: usize = SENDERS * PER_SENDER;
    let server = support::start(support::config()).await;
    let (owner, _owner_events) = server.user("owner").await;
    owner.create_room("arena", "", false).await.unwrap();
    let mut clients: Vec<(Client, Events)> = Vec::new();
    for i in 0..MEMBERS {
        let (client, events) = server.user(&format!("player{i:03}")).await;
        client.join_room("arena", 0, 0).await.unwrap();
        clients.push((client, events));
    }

    let mut collectors = JoinSet::new();
    let mut senders = Vec::new();
    for (i, (client, mut events)) in clients.into_iter().enumerate() {
        let expect = if i < SENDERS {
            TOTAL - PER_SENDER
        } else {
            TOTAL
        };
        if i < SENDERS {
            senders.push((i, client.clone()));
        }
        collectors.spawn(async move {
            let mut seen = Vec::with_capacity(expect);
            while seen.len() < expect {
                let msg = next_chat_in(&mut events, "arena").await;
                seen.push((msg.seq, msg.text));
            }
            drop(client);
            (i, seen)
        });
    }
    let mut sends = JoinSet::new();
    for (i, client) in senders {
        sends.spawn(async move {
            let mut acked = Vec::new();
            for n in 0..PER_SENDER {
                let text = format!("s{i} m{n}");
                let ack = client.chat_in("arena", &text).await.unwrap();
                assert_eq!(ack.room, "arena");
                acked.push((ack.seq, text));
            }
            (i, acked)
        });
    }
    let mut by_seq = BTreeMap::new();
    let mut own = vec![Vec::new(); SENDERS];
    while let Some(res) = sends.join_next().await {
        let (i, acked) = res.unwrap();
        for (seq, text) in acked {
            assert!(by_seq.insert(seq, text).is_none(), "seq {seq} given twice");
            own[i].push(seq);
        }
    }
    let all: Vec<u64> = by_seq.keys().copied().collect();
    assert_eq!(
        all,
        (1..=TOTAL as u64).collect::<Vec<_>>(),
        "per-room sequence has no gap"
    );
    while let Some(res) = collectors.join_next().await {
        let (i, seen) = res.unwrap();
        let mine = own.get(i).cloned().unwrap_or_default();
        let expected: Vec<(u64, String)> = by_seq
            .iter()
            .filter(|(seq, _)| !mine.contains(seq))
            .map(|(seq, text)| (*seq, text.clone()))
            .collect();
        assert_eq!(seen, expected, "member {i} sees the room's one order");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn create_join_leave_list_and_membership_notices() {
    let server = support::start(support::config()).await;
    let (alice, mut alice_events) = server.user("alice").await;
    let (bob, _bob_events) = server.user("bob").await;
    let joined = alice
        .create_room("Tavern", "ale and songs", false)
        .await
        .unwrap();
    assert_eq!(joined.role(), RoomRole::Owner);
    let info = joined.room.unwrap();
    assert_eq!(
        (info.name.as_str(), info.topic.as_str(), info.member_count),
        ("Tavern", "ale and songs", 1)
    );
    assert_eq!(
        server_code(bob.create_room("TAVERN", "", false).await),
        ErrorCode::RoomExists
    );

    // Names compare case-insensitively.
    let joined = bob.join_room("tavern", 0, 0).await.unwrap();
    assert_eq!(joined.role(), RoomRole::Member);
    let who = next_where(&mut alice_events, |e| match e {
        Event::MemberJoined(j) => Some(j),
        _ => None,
    })
    .await;
    assert_eq!(
        (who.room.as_str(), who.user.unwrap().username.as_str()),
        ("Tavern", "bob")
    );

    let rooms = bob.list_rooms().await.unwrap();
    let names: Vec<_> = rooms
        .iter()
        .map(|r| (r.name.as_str(), r.member_count))
        .collect();
    assert_eq!(
        names,
        [("", 2), ("Tavern", 2)],
        "the lobby counts who is online"
    );
    let members = alice.list_members("Tavern").await.unwrap();
    let roles: Vec<_> = members
        .iter()
        .map(|m| {
            (
                m.user.as_ref().unwrap().username.as_str(),
                m.role(),
                m.online,
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("alice", RoomRole::Owner, true),
            ("bob", RoomRole::Member, true)
        ]
    );

    bob.leave_room("Tavern").await.unwrap();
    let left = next_where(&mut alice_events, |e| match e {
        Event::MemberLeft(l) => Some(l),
        _ => None,
    })
    .await;
    assert_eq!(left.reason(), LeaveReason::Left);
    assert_eq!(
        server_code(bob.chat_in("Tavern", "hi").await),
        ErrorCode::NotInRoom
    );
    assert_eq!(
        server_code(bob.leave_room("Tavern").await),
        ErrorCode::NotInRoom
    );
    assert_eq!(
        server_code(bob.leave_room("").await),
        ErrorCode::LobbyIsSpecial
    );
    assert_eq!(
        server_code(bob.join_room("nowhere", 0, 0).await),
        ErrorCode::NoSuchRoom
    );
    assert_eq!(
        server_code(bob.list_members("Tavern").await),
        ErrorCode::NotInRoom
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn roles_decide_who_may_moderate() {
    let server = support::start(support::config()).await;
    let (owner, _owner_events) = server.user("owner").await;
    let (op, mut op_events) = server.user("oper").await;
    let (member, mut member_events) = server.user("member").await;
    let (other, _other_events) = server.user("other").await;
    owner.create_room("guild", "", false).await.unwrap();
    for client in [&op, &member, &other] {
        client.join_room("guild", 0, 0).await.unwrap();
    }

    // A member has no rights; only the owner grants them.
    assert_eq!(
        server_code(member.set_topic("guild", "mine").await),
        ErrorCode::NotRoomOperator
    );
    assert_eq!(
        server_code(member.kick_member("guild", "other", "").await),
        ErrorCode::NotRoomOperator
    );
    assert_eq!(
        server_code(op.set_role("guild", "oper", RoomRole::Operator).await),
        ErrorCode::NotRoomOperator
    );
    owner
        .set_role("guild", "oper", RoomRole::Operator)
        .await
        .unwrap();
    let changed = next_where(&mut member_events, |e| match e {
        Event::RoleChanged(c) => Some(c),
        _ => None,
    })
    .await;
    assert_eq!(changed.role(), RoomRole::Operator);
    assert_eq!(changed.user.unwrap().username, "oper");
    assert_eq!(
        server_code(owner.set_role("guild", "oper", RoomRole::Owner).await),
        ErrorCode::InvalidRole
    );
    assert_eq!(
        server_code(owner.set_topic("", "lobby topic").await),
        ErrorCode::LobbyIsSpecial
    );

    // An operator sets the topic and kicks members, but not its equals or the owner.
    op.set_topic("guild", "raid at nine").await.unwrap();
    let updated = next_where(&mut member_events, |e| match e {
        Event::RoomUpdated(u) => Some(u),
        _ => None,
    })
    .await;
    assert_eq!(updated.room.unwrap().topic, "raid at nine");
    assert_eq!(
        server_code(op.kick_member("guild", "owner", "").await),
        ErrorCode::TargetOutranks
    );
    assert_eq!(
        server_code(op.kick_member("guild", "oper", "").await),
        ErrorCode::TargetOutranks
    );
    assert_eq!(
        server_code(op.kick_member("guild", "nobody", "").await),
        ErrorCode::NoSuchUser
    );
    assert_eq!(
        server_code(op.kick_member("", "member", "").await),
        ErrorCode::LobbyIsSpecial
    );
    assert_eq!(
        server_code(op.set_topic("guild", &"t".repeat(257)).await),
        ErrorCode::InvalidTopic
    );

    // A kicked member gets MemberLeft and nothing more from the room.
    op.kick_member("guild", "member", "spam").await.unwrap();
    let left = next_where(&mut member_events, |e| match e {
        Event::MemberLeft(l) => Some(l),
        _ => None,
    })
    .await;
    assert_eq!(
        (left.reason(), left.message.as_str()),
        (LeaveReason::Kicked, "spam")
    );
    owner.chat_in("guild", "after the kick").await.unwrap();
    assert_eq!(
        support::next_chat_in(&mut op_events, "guild").await.text,
        "after the kick"
    );
    member.ping().await.unwrap();
    while let Some(event) = member_events.try_next() {
        assert!(
            !matches!(event, Event::Chat(ref m) if m.room == "guild"),
            "kicked member got {event:?}"
        );
    }
    assert_eq!(
        server_code(member.chat_in("guild", "let me in").await),
        ErrorCode::NotInRoom
    );
    // A kick is not a ban: they may come back.
    member.join_room("guild", 0, 0).await.unwrap();

    // A ban removes them and keeps them out until unbanned.
    op.ban_member("guild", "member", "again").await.unwrap();
    let left = next_where(&mut member_events, |e| match e {
        Event::MemberLeft(l) => Some(l),
        _ => None,
    })
    .await;
    assert_eq!(left.reason(), LeaveReason::Banned);
    assert_eq!(
        server_code(member.join_room("guild", 0, 0).await),
        ErrorCode::BannedFromRoom
    );
    op.unban_member("guild", "member").await.unwrap();
    member.join_room("guild", 0, 0).await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn invite_only_rooms_need_an_invitation_which_joining_uses_up() {
    let server = support::start(support::config()).await;
    let (owner, _owner_events) = server.user("owner").await;
    let (guest, mut guest_events) = server.user("guest").await;
    owner.create_room("vip", "", true).await.unwrap();
    assert_eq!(
        server_code(guest.join_room("vip", 0, 0).await),
        ErrorCode::InviteOnly
    );
    let listed: Vec<String> = guest
        .list_rooms()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert!(
        !listed.contains(&"vip".to_owned()),
        "invite-only rooms are not listed to outsiders"
    );
    assert_eq!(
        server_code(guest.invite("vip", "owner").await),
        ErrorCode::NotInRoom
    );

    owner.invite("vip", "guest").await.unwrap();
    let invited = next_where(&mut guest_events, |e| match e {
        Event::Invited(i) => Some(i),
        _ => None,
    })
    .await;
    assert_eq!(
        (invited.room.as_str(), invited.by.unwrap().username.as_str()),
        ("vip", "owner")
    );
    guest.join_room("vip", 0, 0).await.unwrap();
    guest.leave_room("vip").await.unwrap();
    assert_eq!(
        server_code(guest.join_room("vip", 0, 0).await),
        ErrorCode::InviteOnly,
        "the invitation was used up"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn every_room_limit_has_its_own_error() {
    let config = sori_server::Config {
        rooms: RoomLimits {
            max_rooms: 3, // the lobby and two more
            max_members: 2,
            max_rooms_per_user: 1,
            max_name_chars: 8,
            max_topic_chars: 10,
            ..RoomLimits::default()
        },
        ..support::config()
    };
    let server = support::start(config).await;
    let (a, _ae) = server.user("anna").await;
    let (b, _be) = server.user("bert").await;
    let (c, _ce) = server.user("cleo").await;
    assert_eq!(
        server_code(a.create_room("toolongname", "", false).await),
        ErrorCode::InvalidRoomName
    );
    assert_eq!(
        server_code(a.create_room("", "", false).await),
        ErrorCode::InvalidRoomName
    );
    assert_eq!(
        server_code(a.create_room("has space", "", false).await),
        ErrorCode::InvalidRoomName
    );
    assert_eq!(
        server_code(a.create_room("ok", "eleven chars", false).await),
        ErrorCode::InvalidTopic
    );
    a.create_room("one", "", false).await.unwrap();
    assert_eq!(
        server_code(a.create_room("two", "", false).await),
        ErrorCode::TooManyMemberships
    );
    b.create_room("two", "", false).await.unwrap();
    assert_eq!(
        server_code(c.create_room("three", "", false).await),
        ErrorCode::TooManyRooms
    );
    c.join_room("one", 0, 0).await.unwrap();
    let (d, _de) = server.user("dora").await;
    assert_eq!(
        server_code(d.join_room("one", 0, 0).await),
        ErrorCode::RoomFull
    );
    assert_eq!(
        server_code(c.join_room("two", 0, 0).await),
        ErrorCode::TooManyMemberships
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn join_sends_the_newest_history_and_history_pages_back_without_gaps() {
    let server = support::start(support::config()).await;
    let (alice, _ae) = server.user("alice").await;
    alice.create_room("log", "", false).await.unwrap();
    for n in 1..=120 {
        alice.chat_in("log", &format!("line {n}")).await.unwrap();
    }
    let (bob, _be) = server.user("bob").await;
    let joined = bob.join_room("log", 0, 0).await.unwrap();
    assert_eq!(joined.last_seq, 120);
    let seqs: Vec<u64> = joined.history.iter().map(|m| m.seq).collect();
    assert_eq!(
        seqs,
        (71..=120).collect::<Vec<_>>(),
        "the newest 50 by default, oldest first"
    );
    assert_eq!(joined.history[0].text, "line 71");

    let mut before = joined.history[0].seq;
    let mut all = seqs;
    loop {
        let page = bob.history("log", before, 30).await.unwrap();
        let page_seqs: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
        assert!(page_seqs.windows(2).all(|w| w[1] == w[0] + 1));
        all.splice(0..0, page_seqs);
        if !page.has_more {
            break;
        }
        before = page.messages[0].seq;
    }
    assert_eq!(all, (1..=120).collect::<Vec<_>>());
    let newest = bob.history("log", 0, 5).await.unwrap();
    assert_eq!(
        newest.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        [116, 117, 118, 119, 120]
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn history_answers_stay_within_their_byte_budget() {
    let config = sori_server::Config {
        rooms: RoomLimits {
            history_max_bytes: 10 * 1024,
            ..RoomLimits::default()
        },
        ..support::config()
    };
    let server = support::start(config).await;
    let (alice, _ae) = server.user("alice").await;
    alice.create_room("big", "", false).await.unwrap();
    let text = "y".repeat(1000);
    for _ in 0..40 {
        alice.chat_in("big", &text).await.unwrap();
    }
    // About 1 KiB each: ten fit, the newest ten.
    let (bob, _be) = server.user("bob").await;
    let joined = bob.join_room("big", 0, 0).await.unwrap();
    let seqs: Vec<u64> = joined.history.iter().map(|m| m.seq).collect();
    assert!(seqs.len() < 11 && seqs.len() >= 8, "{seqs:?}");
    assert_eq!(*seqs.last().unwrap(), 40);
    let page = bob.history("big", 0, 100).await.unwrap();
    assert!(page.messages.len() < 11 && page.has_more);
    // A resume that does not fit one answer becomes a reload.
    let joined = bob.join_room("big", 5, 0).await.unwrap();
    assert!(joined.reload_required && !joined.resumed);
    assert_eq!(joined.history.last().unwrap().seq, 40);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn rooms_memberships_bans_and_history_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sori.db");
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    let server = support::start_with(support::config(), store).await;
    let (owner, _oe) = server.user("owner").await;
    let (friend, _fe) = server.user("friend").await;
    let (pest, _pe) = server.user("pest").await;
    owner
        .create_room("keep", "kept topic", false)
        .await
        .unwrap();
    friend.join_room("keep", 0, 0).await.unwrap();
    pest.join_room("keep", 0, 0).await.unwrap();
    owner
        .set_role("keep", "friend", RoomRole::Operator)
        .await
        .unwrap();
    owner.ban_member("keep", "pest", "").await.unwrap();
    for n in 1..=70 {
        owner.chat_in("keep", &format!("m{n}")).await.unwrap();
    }
    owner.chat("lobby line").await.unwrap();
    drop((owner, friend, pest));
    server.stop().await.unwrap();

    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    let server = support::start_with(support::config(), store).await;
    let (friend, _fe) = server.connect().await;
    let login = friend.login("friend", PASSWORD).await.unwrap();
    let keep = login
        .rooms
        .iter()
        .find(|r| r.name == "keep")
        .expect("still a member");
    assert_eq!(
        (keep.topic.as_str(), keep.last_seq, keep.member_count),
        ("kept topic", 70, 2)
    );
    let members = friend.list_members("keep").await.unwrap();
    assert!(
        members.iter().any(
            |m| m.user.as_ref().unwrap().username == "friend" && m.role() == RoomRole::Operator
        )
    );
    // History pages across the restart.
    let page = friend.history("keep", 0, 100).await.unwrap();
    assert_eq!(page.messages.len(), 70);
    assert_eq!(page.messages[69].text, "m70");
    let lobby = friend.history("", 0, 10).await.unwrap();
    assert_eq!(lobby.messages.last().unwrap().text, "lobby line");
    // New messages continue the sequence.
    assert_eq!(friend.chat_in("keep", "m71").await.unwrap().seq, 71);
    let (pest, _pe) = server.connect().await;
    pest.login("pest", PASSWORD).await.unwrap();
    assert_eq!(
        server_code(pest.join_room("keep", 0, 0).await),
        ErrorCode::BannedFromRoom
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_acked_message_survives_a_crash_right_after_the_ack() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sori.db");
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    let server = support::start_with(support::config(), store).await;
    let (alice, _ae) = server.user("alice").await;
    alice.create_room("safe", "", false).await.unwrap();
    let mut acked = Vec::new();
    for n in 0..50 {
        acked.push(
            alice
                .chat_in("safe", &format!("durable {n}"))
                .await
                .unwrap()
                .seq,
        );
    }
    // No graceful shutdown: the server task is torn down where it stands.
    server.crash();
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    let server = support::start_with(support::config(), store).await;
    let (alice, _ae) = server.connect().await;
    alice.login("alice", PASSWORD).await.unwrap();
    let page = alice.history("safe", 0, 100).await.unwrap();
    let stored: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
    assert_eq!(stored, acked, "every acknowledged message is on disk");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn without_history_acks_are_immediate_and_history_is_refused() {
    let config = sori_server::Config {
        history: false,
        ..support::config()
    };
    let server = support::start(config).await;
    let (alice, _ae) = server.user("alice").await;
    alice.create_room("fleeting", "", false).await.unwrap();
    for n in 1..=3 {
        assert_eq!(
            alice
                .chat_in("fleeting", &format!("{n}"))
                .await
                .unwrap()
                .seq,
            n
        );
    }
    assert_eq!(
        server_code(alice.history("fleeting", 0, 10).await),
        ErrorCode::HistoryDisabled
    );
    // Joining still shows what the room remembers in memory.
    let (bob, _be) = server.user("bob").await;
    let joined = bob.join_room("fleeting", 0, 0).await.unwrap();
    assert_eq!(joined.history.len(), 3);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn numbers_handed_out_before_a_crash_are_never_handed_out_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sori.db");
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    let server = support::start_with(support::config(), store).await;
    let (alice, _ae) = server.user("alice").await;
    let (bob, mut bob_events) = server.user("bob").await;
    alice.create_room("fast", "", false).await.unwrap();
    bob.join_room("fast", 0, 0).await.unwrap();
    // Pipelined chat, and a crash while it is in flight: some messages are
    // fanned out to bob and never stored.
    let sender = alice.clone();
    let pipelined = tokio::spawn(async move {
        let sends = (0..400).map(|n| {
            let alice = sender.clone();
            async move { alice.chat_in("fast", &format!("before {n}")).await }
        });
        let mut all = JoinSet::new();
        for send in sends {
            all.spawn(send);
        }
        all.join_all().await
    });
    let mut seen = 0;
    while seen < 100 {
        if let Event::Chat(m) = bob_events.next().await {
            seen = seen.max(m.seq);
        }
    }
    server.crash();
    let _ = pipelined.await;
    // Whatever else bob got before the connection died.
    while let Ok(event) = tokio::time::timeout(Duration::from_millis(200), bob_events.next()).await
    {
        match event {
            sori_client::Event::Chat(m) => seen = seen.max(m.seq),
            sori_client::Event::Closed => break,
            _ => {}
        }
    }

    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    let server = support::start_with(support::config(), store).await;
    let (alice, _ae) = server.connect().await;
    alice.login("alice", PASSWORD).await.unwrap();
    let after = alice.chat_in("fast", "after the crash").await.unwrap().seq;
    assert!(
        after > seen,
        "seq {after} after the crash, but bob saw up to {seen} before it"
    );
    // A resume from a number that was never stored is a reload, never a
    // resume that hands the new message the old number.
    let (bob, _be) = server.connect().await;
    bob.login("bob", PASSWORD).await.unwrap();
    let joined = bob.join_room("fast", seen, 0).await.unwrap();
    assert!(
        joined
            .history
            .iter()
            .all(|m| m.seq > seen || m.text.starts_with("before"))
    );
    assert!(joined.last_seq >= after);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_deleted_rooms_name_is_a_new_room_and_a_resume_of_the_old_one_reloads() {
    let server = support::start(support::config()).await;
    let (owner, _oe) = server.user("owner").await;
    let (member, mut member_events) = server.user("member").await;
    let created = owner.create_room("temp", "", false).await.unwrap();
    let old_id = created.room.as_ref().unwrap().room_id;
    member.join_room("temp", 0, 0).await.unwrap();
    for n in 0..5 {
        owner.chat_in("temp", &format!("old {n}")).await.unwrap();
    }
    // Only the owner (or an admin) may delete it.
    assert_eq!(
        server_code(member.delete_room("temp").await),
        ErrorCode::NotRoomOperator
    );
    owner.delete_room("temp").await.unwrap();
    loop {
        if let Event::RoomDeleted(gone) = member_events.next().await {
            assert_eq!((gone.room.as_str(), gone.room_id), ("temp", old_id));
            break;
        }
    }
    let again = owner.create_room("temp", "", false).await.unwrap();
    let new_id = again.room.as_ref().unwrap().room_id;
    assert!(new_id > old_id, "room ids are never reused");
    owner.chat_in("temp", "new 1").await.unwrap();
    member.join_room("temp", 0, 0).await.unwrap();
    // A client resuming the old room from seq 5 is told to reload.
    let resumed = member
        .request(Message::JoinRoom(pb::JoinRoom {
            name: "temp".into(),
            since_seq: 5,
            history_limit: 0,
            room_id: old_id,
        }))
        .await
        .unwrap();
    let Message::RoomJoined(joined) = resumed else {
        panic!("expected RoomJoined, got {resumed:?}")
    };
    assert!(joined.reload_required && !joined.resumed);
    assert_eq!(joined.history.len(), 1);
    server.stop().await.unwrap();
}
