//! keyhold-audit performs no I/O (an Architecture Invariant in docs/architecture.md): its
//! sources name no file, network, environment, process, clock or database API, and its
//! manifest depends on no keyhold crate but keyhold-crypto.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

const FORBIDDEN: [&str; 10] = [
    "std::fs",
    "std::net",
    "std::env",
    "std::process",
    "std::io::stdin",
    "SystemTime",
    "Instant::now",
    "available_parallelism",
    "rusqlite",
    "keyhold_store",
];

/// The paths a source names, with grouped imports expanded (`use std::{fs, io}` names
/// `std::fs` and `std::io`), so that no spelling slips past a plain substring scan.
fn named_paths(text: &str) -> String {
    let mut out = String::from(text);
    let mut rest = text;
    while let Some(at) = rest.find("std::{") {
        let inner = &rest[at + "std::{".len()..];
        let end = inner.find('}').unwrap_or(inner.len());
        for item in inner[..end].split(',') {
            let name = item.trim().split([' ', ':']).next().unwrap_or_default();
            if !name.is_empty() {
                out.push_str("\nstd::");
                out.push_str(name);
                // `std::{io::stdin}` and the like keep their tail.
                out.push_str(&item.trim()[name.len()..]);
            }
        }
        rest = &inner[end..];
    }
    out
}

fn forbidden_in(text: &str) -> Option<&'static str> {
    let paths = named_paths(text);
    FORBIDDEN.into_iter().find(|f| paths.contains(f))
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn sources_use_no_io_apis() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(forbidden_in(&text), None, "{} does I/O", path.display());
    }
    assert!(files.len() >= 8, "scanned only {} files", files.len());
}

#[test]
fn the_scan_sees_grouped_and_nested_spellings() {
    for (text, found) in [
        ("use std::fs;", Some("std::fs")),
        ("use std::{collections::BTreeMap, fs};", Some("std::fs")),
        ("use std::{\n    env,\n    fmt,\n};", Some("std::env")),
        ("use std::{io::stdin, fmt};", Some("std::io::stdin")),
        ("let t = std::time::SystemTime::now();", Some("SystemTime")),
        ("use std::{collections::BTreeMap, fmt};", None),
    ] {
        assert_eq!(forbidden_in(text), found, "{text}");
    }
}

#[test]
fn depends_on_no_keyhold_crate_but_crypto() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    let keyhold: Vec<_> = deps
        .lines()
        .filter(|l| l.trim_start().starts_with("keyhold"))
        .collect();
    assert_eq!(keyhold, ["keyhold-crypto.workspace = true"]);
}
