//! `keyhold login` / `keyhold logout`: the CLI as a person. A sign-in's session is kept in a
//! file only its owner can read (0600, in a 0700 directory): `KEYHOLD_SESSION_FILE`, or
//! `$XDG_CONFIG_HOME/keyhold/session.json`, or `~/.config/keyhold/session.json`. Commands
//! through that server then act as that person (unless `KEYHOLD_TOKEN` names a key).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;

use keyhold::api::{Secret, SignIn};
use keyhold::{Error, Remote, Zeroizing};

use crate::output::{Output, time};
use crate::secret_input;

/// The session kept on disk.
#[derive(serde::Serialize, serde::Deserialize)]
struct Kept {
    server: String,
    session: String,
    csrf: String,
}

impl Drop for Kept {
    fn drop(&mut self) {
        use keyhold::Zeroizing as Z;
        drop(Z::new(std::mem::take(&mut self.session)));
        drop(Z::new(std::mem::take(&mut self.csrf)));
    }
}

fn file() -> keyhold::Result<PathBuf> {
    if let Some(f) = std::env::var_os("KEYHOLD_SESSION_FILE") {
        return Ok(PathBuf::from(f));
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or_else(|| Error::InvalidInput {
            field: "session file",
            reason: "set HOME, XDG_CONFIG_HOME or KEYHOLD_SESSION_FILE".into(),
        })?;
    Ok(config.join("keyhold").join("session.json"))
}

fn io(path: &std::path::Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Io {
        path: path.to_owned(),
        kind: e.kind(),
    }
}

/// `keyhold login`: signs in at `server` and keeps the session.
pub fn login(
    server: &str,
    ca: Option<&[u8]>,
    (email, password_stdin, totp): (Option<&str>, bool, bool),
    ws: Option<&str>,
    out: &Output,
) -> keyhold::Result<()> {
    let email = match email {
        Some(e) => e.to_owned(),
        None => secret_input::credential("email", password_stdin)?.to_string(),
    };
    let password = secret_input::credential("password", password_stdin)?;
    let code = match totp {
        true => Some(Secret::new(
            secret_input::credential("TOTP code", password_stdin)?.as_str(),
        )),
        false => None,
    };
    let body = SignIn {
        email,
        password: Secret::new(password.as_str()),
        totp: code,
        workspace: ws.map(str::to_owned),
    };
    let (session, answer) = Remote::sign_in(server, &body, ca)?;
    let kept = Kept {
        server: server.to_owned(),
        session: session.to_string(),
        csrf: answer.csrf.expose().to_owned(),
    };
    let path = file()?;
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(dir))?;
    }
    let text =
        Zeroizing::new(serde_json::to_vec(&kept).map_err(|_| Error::Internal("the session file"))?);
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    f.write_all(&text)
        .and_then(|()| f.sync_all())
        .map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    let view = serde_json::json!({ "email": answer.email, "workspace": answer.workspace, "role": answer.role, "expires_at": answer.expires_at });
    out.emit(&view, || {
        format!(
            "Signed in as {} ({}) until {} at the latest.",
            answer.email,
            answer.role,
            time(answer.expires_at)
        )
    })
}

/// The session kept for `server`, as operations through it.
pub fn session(server: &str, ca: Option<&[u8]>) -> keyhold::Result<Option<Remote>> {
    let path = file()?;
    let text = match std::fs::read(&path) {
        Ok(t) => Zeroizing::new(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    let kept: Kept = serde_json::from_slice(&text).map_err(|_| Error::InvalidInput {
        field: "session file",
        reason: format!(
            "{} is not a keyhold session: run keyhold login again",
            path.display()
        ),
    })?;
    if kept.server.trim_end_matches('/') != server.trim_end_matches('/') {
        return Ok(None);
    }
    Remote::with_session(server, &kept.session, &kept.csrf, ca).map(Some)
}

/// `keyhold logout`: ends the session at the server and forgets it.
pub fn logout(server: &str, ca: Option<&[u8]>, out: &Output) -> keyhold::Result<()> {
    let path = file()?;
    if let Some(remote) = session(server, ca)? {
        // Forgotten here even if the server no longer knows it.
        let ended = remote.sign_out();
        std::fs::remove_file(&path).map_err(io(&path))?;
        if let Err(e) = ended
            && e.code() != "session_invalid"
        {
            return Err(e);
        }
    }
    out.emit(&serde_json::json!({ "status": "signed_out" }), || {
        "Signed out.".to_owned()
    })
}
