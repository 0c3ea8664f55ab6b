//! docs/auth-and-tokens.md promises that its error table is complete and that every code in it
//! is produced by some test. This keeps both promises checked.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("root")
}

/// Codes in the doc's error table (rows that start with an anchor).
fn documented() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(root().join("docs/auth-and-tokens.md")).expect("doc");
    doc.lines()
        .filter(|l| l.starts_with("| <a id=\""))
        .map(|l| {
            let id = l["| <a id=\"".len()..]
                .split('"')
                .next()
                .expect("anchor")
                .to_owned();
            let shown = l.split('`').nth(1).expect("code in backticks");
            assert_eq!(id, shown, "anchor and code differ in: {l}");
            id
        })
        .collect()
}

/// Codes the `code()` functions can return: the string literals after `=>` inside them.
fn returned_by(file: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join(file)).expect("source");
    let start = text.find("fn code(&self)").expect("fn code");
    let body = &text[start..];
    let end = body.find("\n    }\n").expect("end of fn code");
    // rustfmt may put a long arm's literal in a block on the next line: `=> {\n "code"`.
    let body = body[..end]
        .replace("=> {\n", "=> ")
        .replace(['\n', ' '], "");
    body.split("=>\"")
        .skip(1)
        .map(|s| s.split('"').next().expect("literal").to_owned())
        .collect()
}

/// Codes given as the first argument of `call` (e.g. `Error::connection("code", …)`) in the
/// sources under `dir`.
fn passed_to(dir: &str, call: &str) -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&root().join(dir), &mut files);
    let flat: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("source"))
        .collect::<String>()
        .split_whitespace()
        .collect();
    let call: String = call.split_whitespace().collect();
    flat.split(call.as_str())
        .skip(1)
        .filter_map(|chunk| {
            let code = chunk.strip_prefix('"')?.split('"').next()?;
            (!code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
                .then(|| code.to_owned())
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.expect("entry").path();
        if p.is_dir() && !p.ends_with("target") {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// All test code: files under `tests/`, and `#[cfg(test)]` modules of sources.
fn test_code() -> String {
    let mut files = Vec::new();
    for top in ["crates", "bins"] {
        rust_files(&root().join(top), &mut files);
    }
    let mut all = String::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        if f.components().any(|c| c.as_os_str() == "tests") {
            all.push_str(&text);
        } else if let Some(i) = text.find("#[cfg(test)]") {
            all.push_str(&text[i..]);
        }
    }
    all
}

/// Codes the server's HTTP layer answers with: the literal after each `StatusCode::NAME,` in
/// its API modules.
fn returned_by_server() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&root().join("bins/keyhold-server/src/api"), &mut files);
    assert!(files.len() > 1, "the server's API modules: {files:?}");
    let text: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("source"))
        .collect();
    let flat: String = text.split_whitespace().collect();
    flat.split("StatusCode::")
        .skip(1)
        .filter_map(|chunk| {
            let rest = chunk
                .trim_start_matches(|c: char| c.is_ascii_uppercase() || c == '_')
                .strip_prefix(",\"")?;
            let code = rest.split('"').next()?;
            (!code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
                .then(|| code.to_owned())
        })
        .collect()
}

#[test]
fn every_code_keyhold_can_return_is_documented_and_nothing_else() {
    let doc = documented();
    let mut code = returned_by("crates/keyhold/src/error.rs");
    code.extend(returned_by("crates/keyhold-token/src/error.rs"));
    code.extend(returned_by("crates/keyhold-access/src/error.rs"));
    code.extend(returned_by("crates/keyhold-rotation/src/error.rs"));
    code.extend(returned_by("crates/keyhold-connect/src/wire.rs"));
    code.extend(returned_by("crates/keyhold-connect/src/target.rs"));
    let connections = passed_to("crates/keyhold/src", "Error::connection(");
    assert!(
        connections.contains("connection_not_found"),
        "{connections:?}"
    );
    code.extend(connections);
    let server = returned_by_server();
    assert!(
        server.contains("missing_token") && server.contains("body_too_large"),
        "{server:?}"
    );
    code.extend(server);
    assert!(code.len() > 30, "found {} codes", code.len());
    let undocumented: Vec<_> = code.difference(&doc).collect();
    let stale: Vec<_> = doc.difference(&code).collect();
    assert!(
        undocumented.is_empty(),
        "codes missing from docs/auth-and-tokens.md: {undocumented:?}"
    );
    assert!(
        stale.is_empty(),
        "documented codes nothing returns: {stale:?}"
    );
}

#[test]
fn every_documented_code_is_asserted_by_a_test() {
    let tests = test_code();
    let untested: Vec<_> = documented()
        .into_iter()
        .filter(|c| !tests.contains(&format!("\"{c}\"")))
        .collect();
    assert!(
        untested.is_empty(),
        "documented codes no test asserts: {untested:?}"
    );
}

#[test]
fn the_client_side_code_table_is_the_documented_one() {
    // `Error::known_codes` is how a client (the CLI through a server) turns an envelope back
    // into an error with the right status and exit code: it must be the doc's table exactly.
    let doc = std::fs::read_to_string(root().join("docs/auth-and-tokens.md")).expect("doc");
    let table: BTreeSet<(String, u16)> = doc
        .lines()
        .filter(|l| l.starts_with("| <a id=\""))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let code = cells[1].split('`').nth(1).expect("code").to_owned();
            (code, cells[2].parse().expect("HTTP status"))
        })
        .collect();
    let known: BTreeSet<(String, u16)> = keyhold::Error::known_codes()
        .iter()
        .map(|c| (c.code.to_owned(), c.status))
        .collect();
    assert_eq!(known, table);
    let e = keyhold::Error::from_envelope("http://127.0.0.1:1", "key_revoked", "key revoked");
    assert_eq!((e.code(), e.http_status()), ("key_revoked", 401));
    let e = keyhold::Error::from_envelope("http://127.0.0.1:1", "from_the_future", "?");
    assert_eq!((e.code(), e.http_status()), ("server_error", 502));
}

#[test]
fn the_cli_exit_statuses_are_the_code_tables() {
    // docs/cli.md lists, per exit status, the codes that give it; `token_*` stands for every
    // code of that prefix. The exit status column of `Error::known_codes` must agree.
    let doc = std::fs::read_to_string(root().join("docs/cli.md")).expect("doc");
    let mut checked = 0;
    for line in doc.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Ok(status) = cells[1].parse::<u8>() else {
            continue;
        };
        for code in cells[2].split('`').skip(1).step_by(2) {
            let matching: Vec<_> = keyhold::Error::known_codes()
                .iter()
                .filter(|c| match code.strip_suffix('*') {
                    Some(prefix) => c.code.starts_with(prefix),
                    None => c.code == code,
                })
                .collect();
            assert!(
                !matching.is_empty(),
                "docs/cli.md names unknown code {code}"
            );
            for c in matching {
                assert_eq!(c.exit, status, "exit status of {}", c.code);
                checked += 1;
            }
        }
    }
    assert!(checked > 25, "checked {checked} codes");
}

/// docs/access.md shows the role table of the code, row for row.
#[test]
fn the_role_table_is_the_documented_one() {
    use keyhold::access::{Access, OPERATIONS};
    let doc = std::fs::read_to_string(root().join("docs/access.md")).expect("docs/access.md");
    let rows: Vec<&str> = doc.lines().filter(|l| l.starts_with("| `")).collect();
    assert_eq!(rows.len(), OPERATIONS.len(), "{rows:#?}");
    for (row, op) in rows.iter().zip(OPERATIONS) {
        let word = |a: &Access| match a {
            Access::Yes => "yes",
            Access::Own => "own",
            Access::No => "no",
        };
        let scope = op
            .scope
            .map_or("—".to_owned(), |s| format!("`{}`", s.as_str()));
        let access: Vec<&str> = op.access.iter().map(word).collect();
        let expected = format!(
            "| `{}` | {} | {} | {} |",
            op.name,
            scope,
            op.what,
            access.join(" | ")
        );
        assert_eq!(*row, expected);
    }
}
