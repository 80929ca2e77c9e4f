use super::*;

fn check(line: &str, expected: Result<Command, &str>) {
    assert_eq!(parse(line), expected.map_err(String::from), "{line:?}");
}

#[test]
fn commands_parse() {
    check("/join #rust", Ok(Command::Join("rust".into())));
    check("/join", Err("usage: /join ROOM"));
    check("/leave", Ok(Command::Leave(None)));
    check("/part rust", Ok(Command::Leave(Some("rust".into()))));
    check(
        "/create -i den secret plans",
        Ok(Command::Create {
            name: "den".into(),
            topic: "secret plans".into(),
            invite_only: true,
        }),
    );
    check(
        "/create den",
        Ok(Command::Create {
            name: "den".into(),
            topic: String::new(),
            invite_only: false,
        }),
    );
    check(
        "/w bo  hello there ",
        Ok(Command::Whisper {
            to: "bo".into(),
            text: "hello there".into(),
        }),
    );
    check(
        "/msg @지수",
        Ok(Command::Whisper {
            to: "지수".into(),
            text: String::new(),
        }),
    );
    check(
        "/topic  Rust and more",
        Ok(Command::Topic("Rust and more".into())),
    );
    check(
        "/kick bo spam",
        Ok(Command::Kick("bo".into(), "spam".into())),
    );
    check("/op bo", Ok(Command::Op("bo".into())));
    check("/QUIT", Ok(Command::Quit));
    check(
        "/frobnicate",
        Err("unknown command /frobnicate (try /help)"),
    );
}
