//! The login form: its fields, which one has the cursor, and what its keys
//! do. It knows nothing of the rest of the [`App`](crate::app::App): a key
//! either edits the form or yields a [`FormAction`] for the app to carry
//! out.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::exchange::Request;
use crate::input::Input;

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

/// What a key on the login form asks of the app.
#[derive(Debug)]
pub enum FormAction {
    /// Nothing beyond the form's own change.
    Stay,
    /// The user asked to quit.
    Quit,
    /// The form was submitted: send `request` and show `notice`.
    Submit {
        /// The login or register request.
        request: Request,
        /// What to say in the status line while it is under way.
        notice: String,
    },
}

impl LoginForm {
    /// Takes in a key press: edits a field, moves the cursor between
    /// fields, toggles registering, or asks to quit or submit.
    pub fn key(&mut self, key: KeyEvent) -> FormAction {
        if self.busy {
            if key.code == KeyCode::Esc {
                return FormAction::Quit;
            }
            return FormAction::Stay;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let fields: &[Field] = if self.register {
            &[Field::Username, Field::Password, Field::DisplayName]
        } else {
            &[Field::Username, Field::Password]
        };
        let at = fields.iter().position(|f| *f == self.focus).unwrap_or(0);
        match key.code {
            KeyCode::Esc => return FormAction::Quit,
            KeyCode::F(2) => {
                self.register = !self.register;
                if !self.register && self.focus == Field::DisplayName {
                    self.focus = Field::Username;
                }
            }
            KeyCode::Char('r') if ctrl => self.register = !self.register,
            KeyCode::Tab | KeyCode::Down => self.focus = fields[(at + 1) % fields.len()],
            KeyCode::BackTab | KeyCode::Up => {
                self.focus = fields[(at + fields.len() - 1) % fields.len()];
            }
            KeyCode::Enter => {
                if self.username.text().trim().is_empty() {
                    self.focus = Field::Username;
                } else if self.password.text().is_empty() {
                    self.focus = Field::Password;
                } else {
                    return self.submit();
                }
            }
            _ => {
                let field = match self.focus {
                    Field::Username => &mut self.username,
                    Field::Password => &mut self.password,
                    Field::DisplayName => &mut self.display_name,
                };
                field.edit(key);
            }
        }
        FormAction::Stay
    }

    /// A login failed: the form takes keys again, with the cursor where
    /// the user most likely has to type.
    pub fn failed(&mut self) {
        self.busy = false;
        self.focus = if self.username.text().is_empty() {
            Field::Username
        } else {
            Field::Password
        };
    }

    fn submit(&mut self) -> FormAction {
        self.busy = true;
        let username = self.username.text().trim().to_owned();
        // The password leaves the form: it is not kept after the request.
        let password = self.password.text().to_owned();
        self.password.clear();
        if self.register {
            let display_name = self.display_name.text().trim().to_owned();
            FormAction::Submit {
                notice: format!("registering {username}…"),
                request: Request::Register {
                    username,
                    password,
                    display_name,
                },
            }
        } else {
            FormAction::Submit {
                notice: format!("logging in as {username}…"),
                request: Request::Login { username, password },
            }
        }
    }
}
