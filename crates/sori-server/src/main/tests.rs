use std::net::SocketAddr;
use std::time::Duration;

use super::*;

/// Writes `text` as a config file and loads it with `flags`.
fn load(text: &str, flags: &[&str]) -> anyhow::Result<Cli> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sori.toml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap().to_owned();
    let args = ["sori-server", "--config", &path]
        .into_iter()
        .chain(flags.iter().copied());
    Cli::load(args)
}

const FILE: &str = r#"
worker_threads = 3
listen = "0.0.0.0:6000"
idle_timeout = "1m"

[tls]
cert = "file-cert.pem"
key = "file-key.pem"
"#;

#[test]
fn the_file_is_read_and_absent_flags_keep_its_values() {
    let cli = load(FILE, &["--server-name", "other"]).unwrap();
    assert_eq!(cli.worker_threads, Some(3));
    assert_eq!(cli.config.listen, SocketAddr::from(([0, 0, 0, 0], 6000)));
    assert_eq!(cli.config.idle_timeout, Duration::from_secs(60));
    assert_eq!(cli.config.server_name, "other");
    let tls = cli.config.tls.unwrap();
    assert_eq!(tls.cert, PathBuf::from("file-cert.pem"));
    assert_eq!(tls.key, PathBuf::from("file-key.pem"));
}

#[test]
fn flags_override_the_file() {
    let cli = load(
        FILE,
        &[
            "--worker-threads",
            "5",
            "--idle-timeout",
            "5s",
            "--tls-cert",
            "flag-cert.pem",
            "--tls-key",
            "flag-key.pem",
        ],
    )
    .unwrap();
    assert_eq!(cli.worker_threads, Some(5));
    assert_eq!(cli.config.idle_timeout, Duration::from_secs(5));
    assert_eq!(cli.config.listen, SocketAddr::from(([0, 0, 0, 0], 6000)));
    let tls = cli.config.tls.unwrap();
    assert_eq!(tls.cert, PathBuf::from("flag-cert.pem"));
    assert_eq!(tls.key, PathBuf::from("flag-key.pem"));
}

#[test]
fn no_file_means_the_defaults() {
    let cli = Cli::load(["sori-server"]).unwrap();
    assert_eq!(cli.worker_threads, None);
    assert_eq!(cli.config, Config::default());
}

#[test]
fn the_tls_flags_come_as_a_pair() {
    let err = Cli::load(["sori-server", "--tls-cert", "cert.pem"]).unwrap_err();
    let err = err.downcast::<clap::Error>().unwrap();
    assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
}

#[test]
fn unknown_keys_in_the_file_are_errors() {
    let err = format!("{:#}", load("max_sesions = 5", &[]).unwrap_err());
    assert!(err.contains("max_sesions"), "{err}");
    let err = format!("{:#}", load("worker_threads = \"many\"", &[]).unwrap_err());
    assert!(err.contains("worker_threads"), "{err}");
}

#[test]
fn the_help_states_every_flags_default() {
    let mut command = Cli::command_for_update();
    command.build();
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if ["help", "version", "config_file"].contains(&id) {
            continue;
        }
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        assert!(help.contains("[default: "), "--{id}: {help:?}");
    }
    let help = command.render_long_help().to_string();
    for flag in [
        "--messages-per-sec",
        "--hash-memory-kib",
        "--ws-listen",
        "--tls-key",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}
