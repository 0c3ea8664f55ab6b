//! keyhold-audit performs no I/O (an Architecture Invariant in docs/architecture.md): its
//! sources name no file, network, environment, process, clock or database API, and its
//! manifest depends on no keyhold crate but keyhold-crypto.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn sources_use_no_io_apis() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let forbidden = [
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
    let mut files = 0;
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            files += 1;
            let text = std::fs::read_to_string(&path).unwrap();
            for f in forbidden {
                assert!(!text.contains(f), "{} uses {f}", path.display());
            }
        }
    }
    assert!(files >= 8, "scanned only {files} files");
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
