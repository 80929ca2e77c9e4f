//! The README's example: log in, say hello in the lobby, print what arrives.

use sori_client::{Client, ClientError, Event};

#[tokio::main]
async fn main() -> Result<(), ClientError> {
    let (client, mut events) = Client::connect("127.0.0.1:5252").await?;
    // Register once; later runs just log in.
    match client
        .register("alice", "correct horse battery", "Alice")
        .await
    {
        Ok(()) | Err(ClientError::Server { .. }) => {}
        Err(err) => return Err(err),
    }
    client.login("alice", "correct horse battery").await?;
    let ack = client.chat("hello, lobby").await?; // the message's seq and server timestamp
    println!("sent as #{}", ack.seq);
    loop {
        match events.next().await {
            Event::Chat(msg) => println!(
                "{}: {}",
                msg.from.unwrap_or_default().display_name,
                msg.text
            ),
            Event::Whisper(msg) => println!(
                "(whisper) {}: {}",
                msg.from.unwrap_or_default().display_name,
                msg.text
            ),
            Event::Closed => break,
            other => println!("{other:?}"),
        }
    }
    Ok(())
}
