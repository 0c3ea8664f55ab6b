//! Reading a new master key from a file or standard input (never from argv).

use std::io::{IsTerminal, Read};
use std::path::Path;

use keyhold::{Error, MasterKey, MasterKeyFile};

/// Reads the new master key from `file` (checked like any key file) or from stdin. On a
/// terminal, echo is switched off while the key is typed.
pub fn new_master_key(file: Option<&Path>) -> keyhold::Result<MasterKey> {
    if let Some(path) = file {
        return MasterKeyFile::new(path).read().map_err(Error::from);
    }
    let stdin = std::io::stdin();
    let _echo_off = if stdin.is_terminal() {
        eprint!("New master key (base64url, 32 bytes): ");
        EchoOff::new()
    } else {
        None
    };
    let mut text = keyhold::Zeroizing::new(String::new());
    stdin
        .lock()
        .take(4096)
        .read_to_string(&mut text)
        .map_err(|e| Error::Io {
            path: "standard input".into(),
            kind: e.kind(),
        })?;
    if text.trim().is_empty() {
        return Err(Error::InvalidInput {
            field: "new master key",
            reason: "nothing on standard input (pipe the key in or use --new-key-file)".into(),
        });
    }
    MasterKey::from_base64url(&text).map_err(Error::from)
}

/// Restores the terminal's echo flag when dropped.
struct EchoOff {
    saved: rustix::termios::Termios,
}

impl EchoOff {
    fn new() -> Option<Self> {
        let fd = std::io::stdin();
        let saved = rustix::termios::tcgetattr(&fd).ok()?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
        rustix::termios::tcsetattr(&fd, rustix::termios::OptionalActions::Now, &quiet).ok()?;
        Some(Self { saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
        eprintln!();
    }
}

/// The API key a command acts as through a server: `KEYHOLD_TOKEN` (never argv).
pub fn server_key() -> keyhold::Result<keyhold::Zeroizing<String>> {
    match std::env::var("KEYHOLD_TOKEN") {
        Ok(t) if !t.trim().is_empty() => Ok(keyhold::Zeroizing::new(t.trim().to_owned())),
        _ => Err(Error::InvalidInput {
            field: "KEYHOLD_TOKEN",
            reason: "not set: a command through a server acts as the API key in KEYHOLD_TOKEN, or as you after `keyhold login`"
                .into(),
        }),
    }
}

/// Reads the token to verify from standard input (first line, trimmed).
pub fn token() -> keyhold::Result<keyhold::Zeroizing<String>> {
    let mut text = keyhold::Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .take(u64::try_from(keyhold::MAX_TOKEN_LEN).unwrap_or(8192) + 2)
        .read_to_string(&mut text)
        .map_err(|e| Error::Io {
            path: "standard input".into(),
            kind: e.kind(),
        })?;
    let t = text.trim();
    if t.is_empty() {
        return Err(Error::InvalidInput {
            field: "token",
            reason: "no token: pipe the token to standard input".into(),
        });
    }
    Ok(keyhold::Zeroizing::new(t.to_owned()))
}

/// Reads a credential from standard input: the first line, without its line ending. On a
/// terminal the user is prompted with echo off; otherwise `piped` must be set (the
/// `--…-stdin` flag), so a credential is never read by surprise.
pub fn credential(what: &'static str, piped: bool) -> keyhold::Result<keyhold::Zeroizing<String>> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    if !piped && !terminal {
        return Err(Error::InvalidInput {
            field: what,
            reason: "pipe it to standard input with the --…-stdin flag (never on the command line)"
                .into(),
        });
    }
    let _echo_off = if terminal {
        eprint!("{what}: ");
        EchoOff::new()
    } else {
        None
    };
    let mut text = keyhold::Zeroizing::new(String::new());
    std::io::BufRead::read_line(&mut stdin.lock().take(4097), &mut text).map_err(|e| {
        Error::Io {
            path: "standard input".into(),
            kind: e.kind(),
        }
    })?;
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return Err(Error::InvalidInput {
            field: what,
            reason: "nothing on standard input".into(),
        });
    }
    Ok(keyhold::Zeroizing::new(line.to_owned()))
}
