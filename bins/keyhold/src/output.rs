//! How results are printed: JSON with `--json`, else words for people; times as RFC 3339.

use std::io::Write;

use keyhold::Status;
use serde::Serialize;

use crate::exit;

/// Where results go: stdout, as JSON or as text.
pub struct Output {
    /// `--json`: every result as JSON.
    pub json: bool,
}

impl Output {
    /// Prints `value` as JSON, or the text `human` makes of it.
    pub fn emit<T: Serialize>(
        &self,
        value: &T,
        human: impl FnOnce() -> String,
    ) -> keyhold::Result<()> {
        let text = if self.json {
            serde_json::to_string_pretty(value)
                .map_err(|_| keyhold::Error::Internal("could not encode the output as JSON"))?
        } else {
            human()
        };
        self.print(&text);
        Ok(())
    }

    /// Prints one line (or lines) on stdout, unprintable characters escaped.
    pub fn print(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        // A closed stdout (e.g. `| head`) is not worth a panic; the operation already happened.
        let _ = writeln!(stdout, "{}", exit::printable(text));
    }
}

/// `value` as pretty JSON.
pub fn pretty_json<T: Serialize>(value: &T) -> keyhold::Result<String> {
    serde_json::to_string_pretty(value)
        .map_err(|_| keyhold::Error::Internal("JSON encoding failed"))
}

/// A Unix time as RFC 3339, to the second.
pub fn time(unix: i64) -> String {
    let t =
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(unix).unwrap_or(0));
    humantime::format_rfc3339_seconds(t).to_string()
}

/// A key's state in one word.
pub fn status_word(s: keyhold::KeyState) -> &'static str {
    match s {
        keyhold::KeyState::Active => "active",
        keyhold::KeyState::Revoked => "revoked",
        keyhold::KeyState::Expired => "expired",
    }
}

/// One key, a field a line.
pub fn human_key(k: &keyhold::ApiKey) -> String {
    let mut s = format!(
        "name:        {}\nid:          {}\nworkspace:   {}\nsub:         {}\nscopes:      {}\nstatus:      {}\nfingerprint: {}\ncreated:     {} by {}\nexpires:     {}\nlast used:   {}",
        k.name,
        k.id,
        k.workspace,
        k.sub,
        k.scopes.join(" "),
        status_word(k.status),
        k.fingerprint,
        time(k.created_at),
        k.created_by,
        time(k.expires_at),
        k.last_used_at.map_or_else(|| "never".to_owned(), time)
    );
    if let (Some(at), Some(by)) = (k.revoked_at, &k.revoked_by) {
        s.push_str(&format!("\nrevoked:     {} by {}", time(at), by));
    }
    s
}

/// The store's status, a field a line.
pub fn human_status(s: &Status) -> String {
    let mut out = format!(
        "data dir:        {}\ndatabase:        {}\nmaster key:      {}\nschema version:  {}\nKEKs:            {} (active: {})\nworkspaces:      {}\nrecords:         {}\ncreated:         {}",
        s.data_dir.display(),
        s.database.display(),
        s.master_key,
        s.schema_version,
        s.kek_count,
        s.active_kek,
        s.workspaces,
        s.records,
        time(s.created_at)
    );
    if s.records_pending_rewrap > 0 {
        out.push_str(&format!(
            "\nKEK rotation:    unfinished, {} record(s) to re-wrap (run: keyhold rekey --kek)",
            s.records_pending_rewrap
        ));
    }
    out
}
