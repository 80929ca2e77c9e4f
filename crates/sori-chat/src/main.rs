//! The `sori-chat` binary: flags and the config file, then the terminal
//! loop over the app and the network task.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser as _;
use serde::Deserialize;
use sori_chat::app::App;
use sori_chat::auth::TokenFile;
use sori_chat::clock::Clock;
use sori_chat::net::{self, NetConfig};

/// A terminal chat client for Sori.
///
/// Settings come from the flags, then the config file
/// (~/.config/sori/chat.toml, or $SORI_CHAT_CONFIG), then the defaults.
#[derive(Debug, clap::Parser)]
#[command(version)]
struct Cli {
    /// Server address, host:port [default: 127.0.0.1:5252].
    #[arg(long, short = 's', value_name = "ADDR")]
    server: Option<String>,
    /// Username to log in as (filled in on the login screen, and whose
    /// saved session is used).
    #[arg(long, short = 'u', value_name = "NAME")]
    user: Option<String>,
    /// Config file (TOML: `server = "…"`, `user = "…"`).
    #[arg(long, env = "SORI_CHAT_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Folder for saved sessions [default: ~/.local/state/sori].
    #[arg(long, env = "SORI_CHAT_STATE", value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

/// The config file's keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    server: Option<String>,
    user: Option<String>,
}

const DEFAULT_SERVER: &str = "127.0.0.1:5252";

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let file = load_config(cli.config.as_ref())?;
    let server = cli
        .server
        .or(file.server)
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
    let user = cli.user.or(file.user);
    let state_dir = cli.state_dir.or_else(default_state_dir);

    let saved_session = match (&state_dir, &user) {
        (Some(dir), Some(user)) => TokenFile::new(dir, &server, user).load().is_some(),
        _ => false,
    };
    let (requests, events) = net::spawn(NetConfig {
        server: server.clone(),
        state_dir,
        username: user.clone(),
    });
    let mut app = App::new(&server, user.as_deref(), Clock::default());
    let start = if saved_session {
        app.resume_with_token()
    } else {
        Vec::new()
    };
    sori_chat::terminal::run(app, requests, events, start)
        .await
        .context("terminal")
}

/// Reads the config file: the one named, which must exist, or the default
/// one, which may not.
fn load_config(named: Option<&PathBuf>) -> anyhow::Result<FileConfig> {
    let (path, required) = match named {
        Some(path) => (path.clone(), true),
        None => match config_home() {
            Some(dir) => (dir.join("sori").join("chat.toml"), false),
            None => return Ok(FileConfig::default()),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if !required && err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(FileConfig::default());
        }
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(PathBuf::from)
}

fn config_home() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|home| home.join(".config")))
}

fn default_state_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|home| home.join(".local").join("state")))
        .map(|dir| dir.join("sori"))
}
