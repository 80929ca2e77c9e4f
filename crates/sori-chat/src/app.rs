//! [`App`]: the whole client as a state machine, with no terminal and no
//! sockets. Keys and [`NetEvent`]s go in, [`Request`]s come out, and
//! `ui::draw` renders whatever state it is in. Tests drive it directly.

use std::collections::BTreeSet;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use sori_client::Event;
use sori_protocol::pb;

use crate::clock::Clock;
use crate::command::{self, COMMANDS, Command};
use crate::conversation::{ConvKey, Conversation, room_key, whisper_key};
use crate::exchange::{ConnState, NetEvent, Request};
use crate::input::Input;
use crate::layout::{self, ChatLayout};
use crate::timeline::NewChat;
use crate::transcript;
use crate::unread;

/// The terminal client's state.
pub struct App {
    /// The server's address, for the login screen and the status line.
    pub server: String,
    /// Which screen is up.
    pub screen: Screen,
    /// The login form.
    pub login: LoginForm,
    /// This user, once logged in.
    pub me: Option<pb::UserInfo>,
    /// The sidebar: rooms (the lobby first, then by name), then whisper
    /// conversations in the order they started.
    pub convs: Vec<Conversation>,
    /// The conversation in view. A key, not an index: conversations come
    /// and go while it is shown.
    pub active: ConvKey,
    /// The input line.
    pub input: Input,
    /// The connection's state.
    pub conn: ConnState,
    /// The latest notice for the status line.
    pub notice: Option<Notice>,
    /// The help screen is up.
    pub help: bool,
    /// The member list: `None` shows it when the terminal is wide enough.
    pub members_shown: Option<bool>,
    /// The terminal's size, in columns and rows.
    pub size: (u16, u16),
    /// How times are shown.
    pub clock: Clock,
    /// Usernames seen, for completion.
    known_users: BTreeSet<String>,
    quit: bool,
}

/// The two screens; help is drawn over the chat screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The login or register form.
    Login,
    /// Rooms and conversations.
    Chat,
}

/// The login form's fields and mode.
#[derive(Debug, Clone, Default)]
pub struct LoginForm {
    /// Registering a new account rather than logging in.
    pub register: bool,
    /// The username field.
    pub username: Input,
    /// The password field, shown masked.
    pub password: Input,
    /// The display name field, when registering.
    pub display_name: Input,
    /// The field with the cursor.
    pub focus: Field,
    /// A login is under way: keys other than quitting wait.
    pub busy: bool,
}

/// A field of the login form.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Field {
    /// The username.
    #[default]
    Username,
    /// The password.
    Password,
    /// The display name (registering only).
    DisplayName,
}

/// A line for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The text.
    pub text: String,
    /// An error (shown in red) rather than information.
    pub error: bool,
}

impl App {
    /// A new app for `server`, at the login screen, with `username` filled
    /// in if given.
    pub fn new(server: &str, username: Option<&str>, clock: Clock) -> Self {
        let mut login = LoginForm::default();
        if let Some(username) = username {
            login.username.set(username);
            login.focus = Field::Password;
        }
        App {
            server: server.to_owned(),
            screen: Screen::Login,
            login,
            me: None,
            convs: vec![Conversation::new(room_key(""), "")],
            active: room_key(""),
            input: Input::default(),
            conn: ConnState::Idle,
            notice: None,
            help: false,
            members_shown: None,
            size: (80, 24),
            clock,
            known_users: BTreeSet::new(),
            quit: false,
        }
    }

    /// Whether the user asked to quit.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// The conversation in view.
    pub fn active_conv(&self) -> &Conversation {
        self.convs
            .iter()
            .find(|conv| conv.key == self.active)
            // The lobby is never removed, and `active` falls back to it.
            .unwrap_or(&self.convs[0])
    }

    /// Whether the member list is shown at the current size.
    pub fn members_visible(&self) -> bool {
        self.screen == Screen::Chat
            && self
                .members_shown
                .unwrap_or(self.size.0 >= layout::WIDE_COLUMNS)
    }

    /// Starts a login with the stored session token, before the user types
    /// anything.
    pub fn resume_with_token(&mut self) -> Vec<Request> {
        self.login.busy = true;
        self.say("logging in with the saved session…");
        vec![Request::Resume]
    }

    /// Takes in the terminal's new size.
    pub fn resize(&mut self, columns: u16, rows: u16) {
        self.size = (columns, rows);
    }

    /// Takes in a key press.
    pub fn key(&mut self, key: KeyEvent) -> Vec<Request> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('q')) {
            return self.quit();
        }
        match self.screen {
            Screen::Login => self.login_key(key),
            Screen::Chat if self.help => {
                if matches!(
                    key.code,
                    KeyCode::Esc | KeyCode::F(1) | KeyCode::Enter | KeyCode::Char('q')
                ) {
                    self.help = false;
                }
                Vec::new()
            }
            Screen::Chat => self.chat_key(key),
        }
    }

    /// Takes in something from the network task.
    pub fn net(&mut self, event: NetEvent) -> Vec<Request> {
        let mut requests = Vec::new();
        match event {
            NetEvent::Connection(state) => {
                match state {
                    ConnState::Offline(_) => self.login.busy = false,
                    // What was said about the old connection is over.
                    ConnState::Resumed => self.notice = None,
                    _ => {}
                }
                self.conn = state;
            }
            NetEvent::LoggedIn {
                user,
                rooms,
                resumed,
                dropped,
            } => requests = self.logged_in(user, rooms, resumed, dropped),
            NetEvent::LoginFailed(message) => {
                self.login.busy = false;
                self.screen = Screen::Login;
                self.login.focus = if self.login.username.text().is_empty() {
                    Field::Username
                } else {
                    Field::Password
                };
                self.error(message);
            }
            NetEvent::Push(event) => requests = self.push(event),
            NetEvent::Joined(joined) => {
                let key = self.take_room(&joined, false);
                requests.extend(self.switch_to(key));
            }
            NetEvent::Left(room) => {
                self.remove(&room_key(&room));
                self.say(format!("left #{room}"));
            }
            NetEvent::History(page) => self.history(page),
            NetEvent::Members {
                room,
                members,
                show,
            } => self.members(&room, members, show),
            NetEvent::Rooms(rooms) => self.rooms(rooms),
            NetEvent::ChatSent { text, ack } => {
                let me = self.me.clone().unwrap_or_default();
                let chat = NewChat {
                    seq: Some(ack.seq),
                    timestamp_ms: ack.timestamp_ms,
                    username: me.username,
                    display_name: me.display_name,
                    text,
                    own: true,
                    mention: false,
                };
                if let Some(conv) = self.conv_mut(&room_key(&ack.room)) {
                    conv.timeline.add_chat(chat);
                    conv.scroll = 0;
                }
            }
            NetEvent::WhisperSent { to, text, ack } => {
                let me = self.me.clone().unwrap_or_default();
                let key = self.whisper_conv(&to, None);
                if let Some(conv) = self.conv_mut(&key) {
                    conv.timeline.add_chat(NewChat {
                        seq: None,
                        timestamp_ms: ack.timestamp_ms,
                        username: me.username,
                        display_name: me.display_name,
                        text,
                        own: true,
                        mention: false,
                    });
                    conv.scroll = 0;
                }
                if ack.stored {
                    self.say(format!(
                        "{to} is offline: the whisper waits for their next login"
                    ));
                }
            }
            NetEvent::Done(text) => self.say(text),
            NetEvent::Failed { what, message } => self.error(format!("{what}: {message}")),
        }
        requests
    }

    fn quit(&mut self) -> Vec<Request> {
        self.quit = true;
        vec![Request::Quit]
    }

    fn login_key(&mut self, key: KeyEvent) -> Vec<Request> {
        if self.login.busy {
            if key.code == KeyCode::Esc {
                return self.quit();
            }
            return Vec::new();
        }
        let form = &mut self.login;
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let fields: &[Field] = if form.register {
            &[Field::Username, Field::Password, Field::DisplayName]
        } else {
            &[Field::Username, Field::Password]
        };
        let at = fields.iter().position(|f| *f == form.focus).unwrap_or(0);
        match key.code {
            KeyCode::Esc => return self.quit(),
            KeyCode::F(2) => {
                form.register = !form.register;
                if !form.register && form.focus == Field::DisplayName {
                    form.focus = Field::Username;
                }
            }
            KeyCode::Char('r') if ctrl => form.register = !form.register,
            KeyCode::Tab | KeyCode::Down => form.focus = fields[(at + 1) % fields.len()],
            KeyCode::BackTab | KeyCode::Up => {
                form.focus = fields[(at + fields.len() - 1) % fields.len()];
            }
            KeyCode::Enter => {
                if form.username.text().trim().is_empty() {
                    form.focus = Field::Username;
                } else if form.password.text().is_empty() {
                    form.focus = Field::Password;
                } else {
                    return self.submit_login();
                }
            }
            _ => {
                let field = match form.focus {
                    Field::Username => &mut form.username,
                    Field::Password => &mut form.password,
                    Field::DisplayName => &mut form.display_name,
                };
                edit(field, key);
            }
        }
        Vec::new()
    }

    fn submit_login(&mut self) -> Vec<Request> {
        let form = &mut self.login;
        form.busy = true;
        let username = form.username.text().trim().to_owned();
        // The password leaves the form: it is not kept after the request.
        let password = form.password.text().to_owned();
        form.password.clear();
        if form.register {
            let display_name = form.display_name.text().trim().to_owned();
            self.say(format!("registering {username}…"));
            vec![Request::Register {
                username,
                password,
                display_name,
            }]
        } else {
            self.say(format!("logging in as {username}…"));
            vec![Request::Login { username, password }]
        }
    }

    fn chat_key(&mut self, key: KeyEvent) -> Vec<Request> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Enter => return self.enter(),
            KeyCode::F(1) => self.help = true,
            KeyCode::F(2) => self.members_shown = Some(!self.members_visible()),
            KeyCode::Char('n') if ctrl => return self.cycle(1),
            KeyCode::Char('p') if ctrl => return self.cycle(-1),
            KeyCode::Down if alt => return self.cycle(1),
            KeyCode::Up if alt => return self.cycle(-1),
            KeyCode::Char(digit @ '1'..='9') if alt => {
                let idx = digit as usize - '1' as usize;
                if let Some(key) = self.convs.get(idx).map(|conv| conv.key.clone()) {
                    return self.switch_to(key);
                }
            }
            KeyCode::Up => self.input.history_up(),
            KeyCode::Down => self.input.history_down(),
            KeyCode::PageUp => return self.scroll_up(),
            KeyCode::PageDown => {
                let page = self.page();
                let conv = self.active_mut();
                conv.scroll = conv.scroll.saturating_sub(page);
            }
            KeyCode::End if ctrl => self.active_mut().scroll = 0,
            KeyCode::Tab => self.complete(),
            KeyCode::Esc => self.notice = None,
            _ => edit(&mut self.input, key),
        }
        Vec::new()
    }

    /// Enter on the chat screen: a command, or a message to the
    /// conversation in view.
    fn enter(&mut self) -> Vec<Request> {
        let line = self.input.submit();
        let text = line.trim();
        if text.is_empty() {
            return Vec::new();
        }
        if text.starts_with('/') && !text.starts_with("//") {
            return match command::parse(text) {
                Ok(command) => self.command(command),
                Err(message) => {
                    self.error(message);
                    Vec::new()
                }
            };
        }
        // "//" sends a line that starts with a slash.
        let text = text
            .strip_prefix('/')
            .filter(|t| t.starts_with('/'))
            .unwrap_or(text);
        let conv = self.active_conv();
        match &conv.key {
            ConvKey::Room(_) => vec![Request::Chat {
                room: conv.name.clone(),
                text: text.to_owned(),
            }],
            ConvKey::Whisper(_) => vec![Request::Whisper {
                to: conv.name.clone(),
                text: text.to_owned(),
            }],
        }
    }

    fn command(&mut self, command: Command) -> Vec<Request> {
        let room = self.active_conv().room().map(str::to_owned);
        let in_room = |what: &str| -> Result<String, String> {
            match &room {
                Some(room) if !room.is_empty() => Ok(room.clone()),
                Some(_) => Err(format!("{what}: not in the lobby (open a room first)")),
                None => Err(format!("{what}: open a room first")),
            }
        };
        let request = match command {
            Command::Join(name) => {
                let key = room_key(&name);
                if self.conv(&key).is_some() {
                    return self.switch_to(key);
                }
                Ok(Request::Join(name))
            }
            Command::Leave(name) => match (name, &self.active) {
                (Some(name), _) => Ok(Request::Leave(name)),
                (None, ConvKey::Whisper(_)) => {
                    let key = self.active.clone();
                    self.remove(&key);
                    return Vec::new();
                }
                (None, _) => in_room("/leave").map(Request::Leave),
            },
            Command::Create {
                name,
                topic,
                invite_only,
            } => Ok(Request::Create {
                name,
                topic,
                invite_only,
            }),
            Command::Rooms => Ok(Request::ListRooms),
            Command::Who(name) => match name.or(room) {
                Some(room) => Ok(Request::Members { room, show: true }),
                None => Err("/who: open a room first".into()),
            },
            Command::Whisper { to, text } => {
                let key = self.whisper_conv(&to, None);
                let mut requests = self.switch_to(key);
                if !text.is_empty() {
                    requests.push(Request::Whisper { to, text });
                }
                return requests;
            }
            Command::Topic(topic) => in_room("/topic").map(|room| Request::Topic { room, topic }),
            Command::Invite(username) => {
                in_room("/invite").map(|room| Request::Invite { room, username })
            }
            Command::Kick(username, reason) => in_room("/kick").map(|room| Request::Kick {
                room,
                username,
                reason,
            }),
            Command::Ban(username, reason) => in_room("/ban").map(|room| Request::Ban {
                room,
                username,
                reason,
            }),
            Command::Unban(username) => {
                in_room("/unban").map(|room| Request::Unban { room, username })
            }
            Command::Op(username) => in_room("/op").map(|room| Request::SetRole {
                room,
                username,
                role: pb::RoomRole::Operator,
            }),
            Command::Deop(username) => in_room("/deop").map(|room| Request::SetRole {
                room,
                username,
                role: pb::RoomRole::Member,
            }),
            Command::Help => {
                self.help = true;
                return Vec::new();
            }
            Command::Quit => return self.quit(),
        };
        match request {
            Ok(request) => vec![request],
            Err(message) => {
                self.error(message);
                Vec::new()
            }
        }
    }

    fn complete(&mut self) {
        let commands: Vec<&str> = COMMANDS.iter().map(|(name, _, _)| *name).collect();
        let line = self.input.text().to_owned();
        let mut names: BTreeSet<String> = self.known_users.clone();
        if let Some(members) = &self.active_conv().members {
            for member in members {
                if let Some(user) = &member.user {
                    names.insert(user.username.clone());
                    names.insert(user.display_name.clone());
                }
            }
        }
        let rooms: Vec<String> = self
            .convs
            .iter()
            .filter_map(|conv| {
                conv.room()
                    .filter(|room| !room.is_empty())
                    .map(str::to_owned)
            })
            .collect();
        self.input.complete(|start, word| {
            let lower = word.to_lowercase();
            let matches =
                |candidate: &str| candidate.to_lowercase().starts_with(&lower) && candidate != word;
            if start == 0 && word.starts_with('/') {
                return commands
                    .iter()
                    .filter(|name| matches(name))
                    .map(|name| (*name).to_owned())
                    .collect();
            }
            if line.starts_with("/join ") || line.starts_with("/leave ") {
                return rooms.iter().filter(|r| matches(r)).cloned().collect();
            }
            if word.is_empty() {
                return Vec::new();
            }
            names.iter().filter(|n| matches(n)).cloned().collect()
        });
    }

    fn cycle(&mut self, step: isize) -> Vec<Request> {
        let n = self.convs.len() as isize;
        let at = self
            .convs
            .iter()
            .position(|conv| conv.key == self.active)
            .unwrap_or(0) as isize;
        let next = (at + step).rem_euclid(n) as usize;
        let key = self.convs[next].key.clone();
        self.switch_to(key)
    }

    /// Shows a conversation: its unread messages are read, and the read
    /// marker goes above the first of them.
    fn switch_to(&mut self, key: ConvKey) -> Vec<Request> {
        if key != self.active {
            if let Some(old) = self.conv_mut(&self.active.clone()) {
                old.marker = None;
            }
        }
        self.active = key.clone();
        let Some(conv) = self.conv_mut(&key) else {
            self.active = room_key("");
            return Vec::new();
        };
        if let Some(first) = conv.unread.viewed() {
            conv.marker = Some(first);
        }
        conv.scroll = 0;
        match (&conv.key, &conv.members) {
            (ConvKey::Room(_), None) => vec![Request::Members {
                room: conv.name.clone(),
                show: false,
            }],
            _ => Vec::new(),
        }
    }

    fn scroll_up(&mut self) -> Vec<Request> {
        let page = self.page();
        let width = self.message_width();
        let total = transcript::lines(&self.clock, self.active_conv(), width).len();
        let conv = self.active_mut();
        let top = total.saturating_sub(page);
        conv.scroll = (conv.scroll + page).min(top);
        if conv.scroll >= top && conv.has_more && !conv.loading {
            if let (Some(room), Some(before_seq)) =
                (conv.room().map(str::to_owned), conv.timeline.oldest_seq())
            {
                conv.loading = true;
                return vec![Request::History { room, before_seq }];
            }
        }
        Vec::new()
    }

    /// Rows of messages in view.
    fn page(&self) -> usize {
        usize::from(self.chat_layout().messages.height).max(1)
    }

    /// The width of the message pane for the terminal's size.
    fn message_width(&self) -> usize {
        usize::from(self.chat_layout().messages.width)
    }

    /// The chat screen's areas for the terminal's size, as `ui` draws them.
    fn chat_layout(&self) -> ChatLayout {
        let full = Rect::new(0, 0, self.size.0, self.size.1);
        layout::chat_layout(full, self.members_visible())
    }

    fn logged_in(
        &mut self,
        user: pb::UserInfo,
        rooms: Vec<pb::RoomJoined>,
        resumed: bool,
        dropped: Vec<String>,
    ) -> Vec<Request> {
        let first = self.me.is_none();
        self.login.busy = false;
        self.login.password.clear();
        self.known_users.insert(user.username.clone());
        self.me = Some(user.clone());
        self.screen = Screen::Chat;
        for room in &dropped {
            self.remove(&room_key(room));
        }
        for joined in &rooms {
            if resumed && joined.reload_required {
                let now = self.now();
                let key = self.take_room(joined, true);
                if let Some(conv) = self.conv_mut(&key) {
                    conv.timeline.notice(
                        now,
                        "… more messages were missed than the server keeps for a resume",
                    );
                }
            } else {
                self.take_room(joined, resumed);
            }
        }
        if resumed {
            if !dropped.is_empty() {
                self.error(format!("removed from {} while away", dropped.join(", ")));
            }
        } else {
            self.say(format!(
                "logged in as {} — /help for commands",
                user.display_name
            ));
        }
        let mut requests = Vec::new();
        if first {
            requests.extend(self.switch_to(self.active.clone()));
        }
        // Member lists may have changed while away.
        if resumed {
            for conv in &mut self.convs {
                conv.members = None;
            }
            requests.extend(self.switch_to(self.active.clone()));
        }
        requests
    }

    /// Takes in a room's `RoomJoined`: creates its conversation if needed
    /// and adds the history. `live` counts the history as unread (a
    /// resume's missed messages), not as old (a first join's).
    fn take_room(&mut self, joined: &pb::RoomJoined, live: bool) -> ConvKey {
        let info = joined.room.clone().unwrap_or_default();
        let key = room_key(&info.name);
        if self.conv(&key).is_none() {
            let at = self
                .convs
                .iter()
                .position(|conv| match &conv.key {
                    ConvKey::Room(other) => other.as_str() > key_name(&key) && !other.is_empty(),
                    ConvKey::Whisper(_) => true,
                })
                .unwrap_or(self.convs.len());
            self.convs
                .insert(at, Conversation::new(key.clone(), &info.name));
        }
        let in_view = self.in_view(&key);
        let me = self.me.clone().unwrap_or_default();
        let Some(conv) = self.conv_mut(&key) else {
            return key;
        };
        conv.name = info.name.clone();
        conv.topic = info.topic.clone();
        let first_seq = joined.history.first().map(|msg| msg.seq);
        if conv.timeline.entries().is_empty() {
            conv.has_more = first_seq.map_or(joined.last_seq > 0, |seq| seq > 1);
        }
        for msg in &joined.history {
            let chat = new_chat(msg, &me);
            let mention = chat.mention;
            let own = chat.own;
            if let Some(id) = conv.timeline.add_chat(chat) {
                if live && !own {
                    conv.unread.message(id, mention, in_view);
                }
            }
        }
        key
    }

    fn push(&mut self, event: Event) -> Vec<Request> {
        let now = self.now();
        let me = self.me.clone().unwrap_or_default();
        match event {
            Event::Chat(msg) => {
                let key = room_key(&msg.room);
                if self.conv(&key).is_none() {
                    self.convs.push(Conversation::new(key.clone(), &msg.room));
                }
                if let Some(user) = &msg.from {
                    self.known_users.insert(user.username.clone());
                }
                let in_view = self.in_view(&key);
                if let Some(conv) = self.conv_mut(&key) {
                    let chat = new_chat(&msg, &me);
                    let (mention, own) = (chat.mention, chat.own);
                    if let Some(id) = conv.timeline.add_chat(chat) {
                        if !own {
                            conv.unread.message(id, mention, in_view);
                        }
                        bump_scroll(conv);
                    }
                }
            }
            Event::Whisper(msg) => {
                let from = msg.from.clone().unwrap_or_default();
                self.known_users.insert(from.username.clone());
                let key = self.whisper_conv(&from.username, Some(&from.display_name));
                let in_view = self.in_view(&key);
                if let Some(conv) = self.conv_mut(&key) {
                    let id = conv.timeline.add_chat(NewChat {
                        seq: None,
                        timestamp_ms: msg.timestamp_ms,
                        username: from.username,
                        display_name: from.display_name,
                        text: msg.text,
                        own: false,
                        mention: false,
                    });
                    if let Some(id) = id {
                        // A whisper is addressed to the user: it always counts.
                        conv.unread.message(id, true, in_view);
                        bump_scroll(conv);
                    }
                }
            }
            Event::MemberJoined(joined) => {
                let user = joined.user.clone().unwrap_or_default();
                self.known_users.insert(user.username.clone());
                if let Some(conv) = self.conv_mut(&room_key(&joined.room)) {
                    conv.timeline.presence(now, &user.display_name, true);
                    if let Some(members) = &mut conv.members {
                        members.retain(|m| !same_user(m, &user.username));
                        members.push(pb::Member {
                            user: Some(user),
                            role: joined.role,
                            online: true,
                        });
                        sort_members(members);
                    }
                    bump_scroll(conv);
                }
            }
            Event::MemberLeft(left) => self.member_left(left, now),
            Event::UserJoined(user) => {
                self.known_users.insert(user.username.clone());
                self.lobby_presence(user, true, now);
            }
            Event::UserLeft(user) => self.lobby_presence(user, false, now),
            Event::RoomUpdated(updated) => {
                let info = updated.room.unwrap_or_default();
                let by = updated.by.unwrap_or_default().display_name;
                if let Some(conv) = self.conv_mut(&room_key(&info.name)) {
                    if conv.topic != info.topic {
                        conv.timeline
                            .notice(now, format!("{by} set the topic: {}", info.topic));
                        bump_scroll(conv);
                    }
                    conv.topic = info.topic;
                }
            }
            Event::Invited(invited) => {
                let by = invited.by.unwrap_or_default().display_name;
                self.say(format!(
                    "{by} invited you to #{0} — /join {0}",
                    invited.room
                ));
            }
            Event::RoleChanged(changed) => {
                let role = changed.role();
                let user = changed.user.unwrap_or_default();
                let by = changed.by.unwrap_or_default().display_name;
                if let Some(conv) = self.conv_mut(&room_key(&changed.room)) {
                    let what = match role {
                        pb::RoomRole::Operator => "made {} an operator",
                        pb::RoomRole::Owner => "made {} the owner",
                        _ => "took operator rights from {}",
                    };
                    conv.timeline.notice(
                        now,
                        format!("{by} {}", what.replace("{}", &user.display_name)),
                    );
                    if let Some(members) = &mut conv.members {
                        for member in members.iter_mut() {
                            if same_user(member, &user.username) {
                                member.role = role as i32;
                            }
                        }
                    }
                    bump_scroll(conv);
                }
            }
            Event::RoomDeleted(deleted) => {
                let by = deleted.by.unwrap_or_default().display_name;
                self.remove(&room_key(&deleted.room));
                self.error(format!("#{} was deleted by {by}", deleted.room));
            }
            // Before a login, only the login timeout closes a connection,
            // and the next login opens a new one: nothing to tell.
            Event::Kicked { .. } if self.me.is_none() => {}
            Event::Kicked { message, .. } => self.error(format!("server: {message}")),
            Event::Error { message, .. } => self.error(format!("server: {message}")),
            // The network task reports the end of the connection itself.
            Event::Closed => {}
        }
        Vec::new()
    }

    fn member_left(&mut self, left: pb::MemberLeft, now: i64) {
        let user = left.user.clone().unwrap_or_default();
        let is_me = self
            .me
            .as_ref()
            .is_some_and(|me| me.username.eq_ignore_ascii_case(&user.username));
        let by = left.by.clone().unwrap_or_default().display_name;
        let why = if left.message.is_empty() {
            String::new()
        } else {
            format!(": {}", left.message)
        };
        let reason = left.reason();
        if is_me {
            let what = match reason {
                pb::LeaveReason::Kicked => format!("kicked from #{} by {by}{why}", left.room),
                pb::LeaveReason::Banned => format!("banned from #{} by {by}{why}", left.room),
                _ => format!("left #{}", left.room),
            };
            self.remove(&room_key(&left.room));
            self.error(what);
            return;
        }
        if let Some(conv) = self.conv_mut(&room_key(&left.room)) {
            match reason {
                pb::LeaveReason::Kicked | pb::LeaveReason::Banned => {
                    let verb = if reason == pb::LeaveReason::Kicked {
                        "kicked"
                    } else {
                        "banned"
                    };
                    conv.timeline
                        .notice(now, format!("{by} {verb} {}{why}", user.display_name));
                }
                _ => conv.timeline.presence(now, &user.display_name, false),
            }
            if let Some(members) = &mut conv.members {
                members.retain(|m| !same_user(m, &user.username));
            }
            bump_scroll(conv);
        }
    }

    fn lobby_presence(&mut self, user: pb::UserInfo, joined: bool, now: i64) {
        if let Some(conv) = self.conv_mut(&room_key("")) {
            conv.timeline.presence(now, &user.display_name, joined);
            if let Some(members) = &mut conv.members {
                members.retain(|m| !same_user(m, &user.username));
                if joined {
                    members.push(pb::Member {
                        user: Some(user),
                        role: pb::RoomRole::Member as i32,
                        online: true,
                    });
                    sort_members(members);
                }
            }
            bump_scroll(conv);
        }
    }

    fn history(&mut self, page: pb::HistoryPage) {
        let me = self.me.clone().unwrap_or_default();
        if let Some(conv) = self.conv_mut(&room_key(&page.room)) {
            conv.loading = false;
            conv.has_more = page.has_more;
            let older = page.messages.iter().map(|msg| new_chat(msg, &me)).collect();
            conv.timeline.prepend(older);
        }
    }

    fn members(&mut self, room: &str, mut members: Vec<pb::Member>, show: bool) {
        sort_members(&mut members);
        for member in &members {
            if let Some(user) = &member.user {
                self.known_users.insert(user.username.clone());
            }
        }
        let now = self.now();
        let active = self.active.clone();
        if show {
            let names: Vec<String> = members
                .iter()
                .map(|m| {
                    let name = m.user.clone().unwrap_or_default().display_name;
                    format!("{}{name}", role_sigil(m.role()))
                })
                .collect();
            let label = if room.is_empty() {
                "online".to_owned()
            } else {
                format!("#{room}")
            };
            if let Some(conv) = self.conv_mut(&active) {
                conv.timeline.notice(
                    now,
                    format!("{label} ({}): {}", names.len(), names.join(", ")),
                );
                conv.scroll = 0;
            }
        }
        if let Some(conv) = self.conv_mut(&room_key(room)) {
            conv.members = Some(members);
        }
    }

    fn rooms(&mut self, rooms: Vec<pb::RoomInfo>) {
        let now = self.now();
        let active = self.active.clone();
        let Some(conv) = self.conv_mut(&active) else {
            return;
        };
        conv.timeline.notice(now, format!("{} rooms:", rooms.len()));
        for room in rooms {
            let name = if room.name.is_empty() {
                "lobby".to_owned()
            } else {
                format!("#{}", room.name)
            };
            let lock = if room.invite_only {
                " (invite-only)"
            } else {
                ""
            };
            let topic = if room.topic.is_empty() {
                String::new()
            } else {
                format!(" — {}", room.topic)
            };
            conv.timeline.notice(
                now,
                format!("  {name} [{}]{lock}{topic}", room.member_count),
            );
        }
        conv.scroll = 0;
    }

    /// The conversation with `username`, created if needed; its key.
    fn whisper_conv(&mut self, username: &str, display_name: Option<&str>) -> ConvKey {
        let key = whisper_key(username);
        match self.conv_mut(&key) {
            Some(conv) => {
                if let Some(display_name) = display_name {
                    conv.display_name = display_name.to_owned();
                    conv.name = username.to_owned();
                }
            }
            None => {
                let mut conv = Conversation::new(key.clone(), username);
                conv.display_name = display_name.unwrap_or(username).to_owned();
                self.convs.push(conv);
            }
        }
        key
    }

    fn remove(&mut self, key: &ConvKey) {
        if *key == room_key("") {
            return;
        }
        self.convs.retain(|conv| conv.key != *key);
        if self.active == *key {
            self.active = room_key("");
            if let Some(conv) = self.conv_mut(&room_key("")) {
                conv.unread.viewed();
            }
        }
    }

    fn in_view(&self, key: &ConvKey) -> bool {
        self.screen == Screen::Chat && self.active == *key
    }

    fn conv(&self, key: &ConvKey) -> Option<&Conversation> {
        self.convs.iter().find(|conv| conv.key == *key)
    }

    fn conv_mut(&mut self, key: &ConvKey) -> Option<&mut Conversation> {
        self.convs.iter_mut().find(|conv| conv.key == *key)
    }

    fn active_mut(&mut self) -> &mut Conversation {
        let key = self.active.clone();
        let idx = self
            .convs
            .iter()
            .position(|conv| conv.key == key)
            .unwrap_or(0);
        &mut self.convs[idx]
    }

    fn now(&self) -> i64 {
        (self.clock.now_ms)()
    }

    fn say(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            text: text.into(),
            error: false,
        });
    }

    fn error(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            text: text.into(),
            error: true,
        });
    }
}

/// The sigil shown before a member's name for their role.
pub fn role_sigil(role: pb::RoomRole) -> &'static str {
    match role {
        pb::RoomRole::Owner => "~",
        pb::RoomRole::Operator => "@",
        _ => "",
    }
}

/// Applies an editing key to an input.
fn edit(input: &mut Input, key: KeyEvent) {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('u') if ctrl => input.clear(),
        KeyCode::Char('w') if ctrl => input.delete_word(),
        KeyCode::Char('a') if ctrl => input.home(),
        KeyCode::Char('e') if ctrl => input.end(),
        KeyCode::Char(c) if !ctrl => input.insert(c),
        KeyCode::Backspace => input.backspace(),
        KeyCode::Delete => input.delete(),
        KeyCode::Left => input.left(),
        KeyCode::Right => input.right(),
        KeyCode::Home => input.home(),
        KeyCode::End => input.end(),
        _ => {}
    }
}

/// A pushed or historical room message, as a timeline entry.
fn new_chat(msg: &pb::ChatMessage, me: &pb::UserInfo) -> NewChat {
    let from = msg.from.clone().unwrap_or_default();
    let own = !me.username.is_empty() && from.username.eq_ignore_ascii_case(&me.username);
    NewChat {
        seq: Some(msg.seq),
        timestamp_ms: msg.timestamp_ms,
        mention: !own && unread::is_mention(&msg.text, me),
        username: from.username,
        display_name: from.display_name,
        text: msg.text.clone(),
        own,
    }
}

/// Keeps a scrolled-up view where it is when lines arrive below it.
fn bump_scroll(conv: &mut Conversation) {
    if conv.scroll > 0 {
        conv.scroll += 1;
    }
}

fn same_user(member: &pb::Member, username: &str) -> bool {
    member
        .user
        .as_ref()
        .is_some_and(|user| user.username.eq_ignore_ascii_case(username))
}

fn sort_members(members: &mut [pb::Member]) {
    members.sort_by_key(|m| {
        (
            std::cmp::Reverse(m.role),
            m.user.as_ref().map(|u| u.display_name.to_lowercase()),
        )
    });
}

fn key_name(key: &ConvKey) -> &str {
    match key {
        ConvKey::Room(name) | ConvKey::Whisper(name) => name,
    }
}

#[cfg(test)]
mod tests;
