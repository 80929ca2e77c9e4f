//! `smoke`: one client (and a peer to receive) walks through every message
//! type and checks the answers. Sori only: it is a check of Sori's
//! protocol, not a load.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use sori_client::{Client, ClientError, Event, Events};
use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};
use tokio::time::Instant;

use crate::report::{SmokeRun, SmokeStep};

/// How long any one check may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
const PASSWORD: &str = "sori-bench-smoke";

/// Runs the walk-through against the server at `addr`; chats go to `room`.
pub async fn run(addr: SocketAddr, room: &str) -> SmokeRun {
    let mut steps = Vec::new();
    let res = walk(addr, room, &mut steps).await;
    if let Err(err) = res {
        // The failing step recorded itself; anything else failed between
        // steps.
        if steps.last().is_none_or(|step| step.ok) {
            steps.push(SmokeStep {
                name: "setup".into(),
                ok: false,
                ms: 0.0,
                detail: Some(format!("{err:#}")),
            });
        }
    }
    let passed = steps.iter().all(|step| step.ok);
    SmokeRun { steps, passed }
}

/// Runs one check, records it, and stops the walk if it failed.
async fn check<T>(
    steps: &mut Vec<SmokeStep>,
    name: &str,
    fut: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let started = Instant::now();
    let res = match tokio::time::timeout(STEP_TIMEOUT, fut).await {
        Ok(res) => res,
        Err(_) => Err(anyhow::anyhow!("no answer within {STEP_TIMEOUT:?}")),
    };
    steps.push(SmokeStep {
        name: name.to_owned(),
        ok: res.is_ok(),
        ms: started.elapsed().as_secs_f64() * 1e3,
        detail: res.as_ref().err().map(|err| format!("{err:#}")),
    });
    res
}

async fn walk(addr: SocketAddr, room: &str, steps: &mut Vec<SmokeStep>) -> anyhow::Result<()> {
    // Fresh names each run: usernames are at most 20 characters.
    let tag = crate::clock::now_ns() % 1_000_000_000;
    let alice = format!("smokea{tag}");
    let bob = format!("smokeb{tag}");

    let (a, mut a_events) =
        check(steps, "connect", async { Ok(Client::connect(addr).await?) }).await?;
    let (b, mut b_events) = Client::connect(addr)
        .await
        .context("connecting the second client")?;
    check(steps, "hello / welcome", async {
        let welcome = a.hello().await?;
        ensure!(
            welcome.protocol_version == 1,
            "protocol version {}",
            welcome.protocol_version
        );
        ensure!(welcome.max_text_len > 0, "max_text_len is 0");
        Ok(())
    })
    .await?;
    check(steps, "chat before login is refused", async {
        expect_code(a.chat("too early").await, ErrorCode::NotAuthenticated)
    })
    .await?;
    check(steps, "register", async {
        a.register(&alice, PASSWORD, "").await?;
        b.register(&bob, PASSWORD, "").await?;
        Ok(())
    })
    .await?;
    check(steps, "register a taken name is refused", async {
        expect_code(
            a.register(&alice, PASSWORD, "").await,
            ErrorCode::UsernameTaken,
        )
    })
    .await?;
    check(steps, "login with a wrong password is refused", async {
        expect_code(
            a.login(&alice, "wrong password!").await,
            ErrorCode::BadCredentials,
        )
    })
    .await?;
    check(steps, "login", async {
        let ok = a.login(&alice, PASSWORD).await?;
        ensure!(
            ok.user.as_ref().is_some_and(|user| user.username == alice),
            "LoginOk names {:?}",
            ok.user
        );
        b.login(&bob, PASSWORD).await?;
        Ok(())
    })
    .await?;
    check(steps, "user joined push", async {
        wait_for(
            &mut a_events,
            |event| matches!(event, Event::UserJoined(user) if user.username == bob),
        )
        .await
    })
    .await?;
    check(steps, "list users", async {
        let users = a.list_users().await?;
        let names: Vec<&str> = users.iter().map(|user| user.username.as_str()).collect();
        ensure!(
            names.contains(&alice.as_str()) && names.contains(&bob.as_str()),
            "got {names:?}"
        );
        Ok(())
    })
    .await?;
    check(steps, "set display name", async {
        a.set_display_name(&format!("Alice{tag}")).await?;
        Ok(())
    })
    .await?;
    check(steps, "chat / ack / message", async {
        let chat = Message::Chat(pb::Chat {
            room: room.to_owned(),
            text: "hello from smoke".into(),
        });
        match a.request(chat).await? {
            Message::ChatAck(_) => {}
            other => bail!("expected ChatAck, got {other:?}"),
        }
        wait_for(
            &mut b_events,
            |event| matches!(event, Event::Chat(msg) if msg.text == "hello from smoke"),
        )
        .await
    })
    .await?;
    check(steps, "empty chat is refused", async {
        expect_code(a.chat("   ").await, ErrorCode::EmptyMessage)
    })
    .await?;
    check(steps, "whisper / ack / message", async {
        a.whisper(&bob, "psst").await?;
        wait_for(
            &mut b_events,
            |event| matches!(event, Event::Whisper(msg) if msg.text == "psst"),
        )
        .await
    })
    .await?;
    check(steps, "whisper to nobody is refused", async {
        expect_code(a.whisper("nosuchuser0", "hi").await, ErrorCode::NoSuchUser)
    })
    .await?;
    check(steps, "ping / pong", async {
        a.ping().await?;
        Ok(())
    })
    .await?;
    check(steps, "logout", async {
        b.logout().await?;
        Ok(())
    })
    .await?;
    check(steps, "user left push", async {
        wait_for(
            &mut a_events,
            |event| matches!(event, Event::UserLeft(user) if user.username == bob),
        )
        .await
    })
    .await?;
    a.logout().await.context("logging out")?;
    Ok(())
}

fn expect_code<T: std::fmt::Debug>(
    res: Result<T, ClientError>,
    want: ErrorCode,
) -> anyhow::Result<()> {
    match res {
        Err(ClientError::Server { code, .. }) if code == want => Ok(()),
        other => bail!("expected {want:?}, got {other:?}"),
    }
}

async fn wait_for(events: &mut Events, mut want: impl FnMut(&Event) -> bool) -> anyhow::Result<()> {
    loop {
        let event = events.next().await;
        if want(&event) {
            return Ok(());
        }
        if event == Event::Closed {
            bail!("connection closed while waiting");
        }
    }
}
