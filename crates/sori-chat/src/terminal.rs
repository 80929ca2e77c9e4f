//! The terminal loop: raw mode and the alternate screen, keys from a
//! thread that reads the terminal, network events from the network task,
//! both fed to the [`App`], and a redraw after each batch.

use std::io;

use crossterm::event::{Event as TermEvent, KeyEventKind};
use tokio::sync::mpsc;

use crate::app::App;
use crate::exchange::{NetEvent, Request};
use crate::ui;

/// Runs the app until the user quits. `start` holds requests to send
/// before the first key (a login with a stored token).
pub async fn run(
    mut app: App,
    requests: mpsc::UnboundedSender<Request>,
    mut events: mpsc::UnboundedReceiver<NetEvent>,
    start: Vec<Request>,
) -> io::Result<()> {
    // Sets raw mode and the alternate screen, and a panic hook that puts
    // the terminal back before the message prints.
    let mut terminal = ratatui::try_init()?;
    let res = event_loop(&mut terminal, &mut app, &requests, &mut events, start).await;
    ratatui::restore();
    res
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    requests: &mpsc::UnboundedSender<Request>,
    events: &mut mpsc::UnboundedReceiver<NetEvent>,
    start: Vec<Request>,
) -> io::Result<()> {
    let (keys_tx, mut keys) = mpsc::unbounded_channel();
    // crossterm's reads block; a plain thread does them. It ends with the
    // process (the channel's receiver is gone by then).
    std::thread::spawn(move || {
        while let Ok(event) = crossterm::event::read() {
            if keys_tx.send(event).is_err() {
                break;
            }
        }
    });
    let size = terminal.size()?;
    app.resize(size.width, size.height);
    send(requests, start);
    loop {
        terminal.draw(|frame| ui::draw(frame, app))?;
        tokio::select! {
            key = keys.recv() => match key {
                Some(event) => send(requests, on_terminal(app, event)),
                None => break,
            },
            event = events.recv() => match event {
                Some(event) => send(requests, app.net(event)),
                None => break,
            },
        }
        // Take in whatever else is waiting before drawing again, so a burst
        // of messages costs one redraw.
        while let Ok(event) = events.try_recv() {
            send(requests, app.net(event));
        }
        if app.should_quit() {
            break;
        }
    }
    Ok(())
}

fn on_terminal(app: &mut App, event: TermEvent) -> Vec<Request> {
    match event {
        TermEvent::Key(key) if key.kind != KeyEventKind::Release => app.key(key),
        TermEvent::Resize(columns, rows) => {
            app.resize(columns, rows);
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn send(requests: &mpsc::UnboundedSender<Request>, out: Vec<Request>) {
    for request in out {
        // The network task only ends after Quit, which ends this loop too.
        let _ = requests.send(request);
    }
}
