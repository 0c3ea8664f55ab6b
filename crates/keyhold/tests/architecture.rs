//! Keeps docs/architecture.md true: its **Architecture Invariant** lines are checked here
//! against `cargo metadata`, so the map cannot drift from the code.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed expectation is the report

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Package {
    manifest: PathBuf,
    /// Workspace crates this one depends on (normal and build dependencies).
    internal: BTreeSet<String>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn workspace() -> BTreeMap<String, Package> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let names: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect();
    packages
        .iter()
        .map(|p| {
            let internal = p["dependencies"]
                .as_array()
                .expect("deps")
                .iter()
                .filter(|d| d["kind"].as_str() != Some("dev"))
                .filter_map(|d| d["name"].as_str())
                .filter(|n| names.contains(*n))
                .map(str::to_owned)
                .collect();
            let manifest = PathBuf::from(p["manifest_path"].as_str().expect("manifest"));
            (
                p["name"].as_str().expect("name").to_owned(),
                Package { manifest, internal },
            )
        })
        .collect()
}

fn under(p: &Package, dir: &str) -> bool {
    p.manifest
        .strip_prefix(root())
        .map(|rel| rel.starts_with(dir))
        .unwrap_or(false)
}

#[test]
fn binaries_depend_only_on_the_facade() {
    let ws = workspace();
    let bins: Vec<_> = ws.iter().filter(|(_, p)| under(p, "bins")).collect();
    assert!(!bins.is_empty());
    for (name, p) in bins {
        let allowed: BTreeSet<String> = ["keyhold".to_owned()].into();
        assert!(
            p.internal.is_subset(&allowed),
            "{name} depends on {:?}; binaries may use only the facade `keyhold`",
            p.internal
        );
    }
}

#[test]
fn crypto_and_store_depend_on_no_keyhold_crate() {
    let ws = workspace();
    for name in ["keyhold-crypto", "keyhold-store"] {
        let p = ws
            .get(name)
            .unwrap_or_else(|| panic!("{name} is a workspace crate"));
        assert!(p.internal.is_empty(), "{name} depends on {:?}", p.internal);
    }
}

#[test]
fn nothing_depends_on_a_binary_and_the_graph_is_acyclic() {
    let ws = workspace();
    for (name, p) in &ws {
        for dep in &p.internal {
            assert!(
                !under(&ws[dep], "bins"),
                "{name} depends on the binary package {dep}"
            );
        }
    }
    // Depth-first search for cycles.
    fn visit<'a>(
        n: &'a str,
        ws: &'a BTreeMap<String, Package>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if done.contains(n) {
            return;
        }
        assert!(!stack.contains(&n), "dependency cycle: {stack:?} -> {n}");
        stack.push(n);
        for d in &ws[n].internal {
            visit(d, ws, stack, done);
        }
        stack.pop();
        done.insert(n);
    }
    let mut done = BTreeSet::new();
    for n in ws.keys() {
        visit(n, &ws, &mut Vec::new(), &mut done);
    }
}

#[test]
fn every_crate_inherits_the_workspace_lints_and_forbids_unsafe() {
    for (name, p) in workspace() {
        let manifest = std::fs::read_to_string(&p.manifest).expect("manifest");
        assert!(
            manifest.contains("[lints]\nworkspace = true"),
            "{name} must inherit [workspace.lints]"
        );
        let dir = p.manifest.parent().expect("dir");
        for entry in ["src/lib.rs", "src/main.rs"] {
            let f = dir.join(entry);
            if f.exists() {
                let text = std::fs::read_to_string(&f).expect("source");
                assert!(
                    text.contains("#![forbid(unsafe_code)]"),
                    "{} lacks #![forbid(unsafe_code)]",
                    f.display()
                );
            }
        }
    }
    let root_manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("root manifest");
    assert!(root_manifest.contains("unsafe_code = \"forbid\""));
    assert!(root_manifest.contains("unwrap_used = \"deny\""));
}

#[test]
fn the_map_names_every_crate() {
    let map =
        std::fs::read_to_string(root().join("docs/architecture.md")).expect("docs/architecture.md");
    for (name, p) in workspace() {
        let rel = p
            .manifest
            .parent()
            .expect("dir")
            .strip_prefix(root())
            .expect("in workspace")
            .display()
            .to_string();
        assert!(
            map.contains(&format!("`{rel}`")),
            "docs/architecture.md has no entry for {name} (`{rel}`)"
        );
    }
    assert!(map.contains("**Architecture Invariant**"));
}

#[test]
fn the_token_crate_does_no_io() {
    let ws = workspace();
    let token = ws
        .get("keyhold-token")
        .expect("keyhold-token is a workspace crate");
    let src = token.manifest.parent().expect("dir").join("src");
    let forbidden = [
        "std::fs",
        "SystemTime",
        "Instant::now",
        "std::net",
        "std::env",
        "std::process",
        "rusqlite",
    ];
    let mut stack = vec![src];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files += 1;
                let text = std::fs::read_to_string(&path).expect("source");
                for f in forbidden {
                    assert!(
                        !text.contains(f),
                        "{} uses {f}: keyhold-token must stay free of I/O",
                        path.display()
                    );
                }
            }
        }
    }
    assert!(files > 3, "scanned {files} files");
    assert!(
        !token.internal.iter().any(|d| d != "keyhold-crypto"),
        "keyhold-token depends on {:?}",
        token.internal
    );
}
