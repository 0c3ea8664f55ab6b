//! The architecture rules, read from the code itself: the crate graph from `cargo metadata`,
//! and every source file parsed with `syn`, so that no spelling (a grouped import, a renamed
//! one, a glob, a fully qualified path, a path inside a macro) slips past them.
//!
//! [`check`] runs every rule over a workspace root and returns what it breaks. The real
//! workspace must come back clean; the fixture workspace under `tests/fixtures/architecture`
//! breaks each rule on purpose and must come back with exactly those violations.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use syn::visit::Visit;

/// One broken rule: which rule, where, and what.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    pub rule: &'static str,
    /// The file (relative to the root) or package it was found in.
    pub place: String,
    pub what: String,
}

pub struct Package {
    pub name: String,
    pub dir: PathBuf,
    /// Workspace crates this one depends on (normal and build dependencies).
    pub internal: BTreeSet<String>,
}

impl Package {
    pub fn under(&self, root: &Path, dir: &str) -> bool {
        self.dir
            .strip_prefix(root)
            .map(|rel| rel.starts_with(dir))
            .unwrap_or(false)
    }
}

pub fn workspace(root: &Path) -> BTreeMap<String, Package> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(root)
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
            let name = p["name"].as_str().expect("name").to_owned();
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
            let dir = manifest.parent().expect("package dir").to_path_buf();
            (
                name.clone(),
                Package {
                    name,
                    dir,
                    internal,
                },
            )
        })
        .collect()
}

/// Every rule over the workspace at `root`.
pub fn check(root: &Path) -> Vec<Violation> {
    let root = root.canonicalize().expect("root");
    let ws = workspace(&root);
    let mut out = Vec::new();
    graph(&root, &ws, &mut out);
    for p in ws.values() {
        let files = rust_files(&p.dir.join("src"));
        for file in &files {
            let text = std::fs::read_to_string(file).expect("source");
            let place = file
                .strip_prefix(&root)
                .unwrap_or(file)
                .display()
                .to_string();
            let ast = match syn::parse_file(&text) {
                Ok(ast) => ast,
                Err(e) => {
                    out.push(Violation {
                        rule: "parses",
                        place,
                        what: e.to_string(),
                    });
                    continue;
                }
            };
            let top = file.parent() == Some(p.dir.join("src").as_path())
                && file
                    .file_name()
                    .is_some_and(|n| n == "lib.rs" || n == "main.rs");
            if top && !forbids_unsafe(&ast) {
                out.push(Violation {
                    rule: "forbids-unsafe",
                    place: place.clone(),
                    what: "no #![forbid(unsafe_code)]".into(),
                });
            }
            if p.name == FACADE {
                reexports(&ast, &place, &mut out);
            }
            if NO_IO.contains(&p.name.as_str()) {
                no_io(&ast, &place, &mut out);
            }
            if p.name != "keyhold-crypto" {
                primitives_from_crypto(&ast, &place, &mut out);
            }
            if p.under(&root, "crates") || p.under(&root, "bins") {
                sizes(&ast, &text, &place, &mut out);
            }
        }
    }
    out.sort();
    out
}

// ---- the crate graph -------------------------------------------------------------------------

const FACADE: &str = "keyhold";
/// Crates at the bottom of the graph: they depend on no keyhold crate.
const STANDALONE: [&str; 2] = ["keyhold-crypto", "keyhold-store"];
/// Crates that may depend on these keyhold crates and no other. The wire protocol stands
/// alone: it speaks for the facade, so it may not know the layers beneath it. The connectors
/// reach targets with credentials the facade hands them, and show a connection in the wire's
/// words from the rotation machine's state; they know no store, token or log. The assistant
/// only reads sentences into intents: it knows no keyhold crate, so it can act on nothing.
/// Nothing limits the facade: it may depend on every library crate (keyhold-connect among them).
const ONLY: [(&str, &[&str]); 9] = [
    ("keyhold-access", &["keyhold-crypto", "keyhold-token"]),
    ("keyhold-api", &[]),
    ("keyhold-assistant", &[]),
    ("keyhold-audit", &["keyhold-crypto"]),
    (
        "keyhold-connect",
        &["keyhold-api", "keyhold-crypto", "keyhold-rotation"],
    ),
    ("keyhold-integrity", &["keyhold-crypto", "keyhold-store"]),
    ("keyhold-rotation", &[]),
    (
        "keyhold-team",
        &[
            "keyhold-access",
            "keyhold-api",
            "keyhold-audit",
            "keyhold-crypto",
            "keyhold-integrity",
            "keyhold-store",
            "keyhold-token",
        ],
    ),
    ("keyhold-token", &["keyhold-crypto"]),
];

fn forbids_unsafe(ast: &syn::File) -> bool {
    ast.attrs.iter().any(|a| {
        a.path().is_ident("forbid")
            && a.parse_args_with(
                syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
            )
            .is_ok_and(|l| l.iter().any(|p| p.is_ident("unsafe_code")))
    })
}

fn graph(root: &Path, ws: &BTreeMap<String, Package>, out: &mut Vec<Violation>) {
    for p in ws.values() {
        if p.under(root, "bins") {
            for d in p.internal.iter().filter(|d| *d != FACADE) {
                out.push(Violation {
                    rule: "binaries-use-only-the-facade",
                    place: p.name.clone(),
                    what: format!("depends on {d}"),
                });
            }
        }
        if STANDALONE.contains(&p.name.as_str()) {
            for d in &p.internal {
                out.push(Violation {
                    rule: "standalone",
                    place: p.name.clone(),
                    what: format!("depends on {d}"),
                });
            }
        }
        if let Some((_, only)) = ONLY.iter().find(|(n, _)| *n == p.name) {
            for d in p.internal.iter().filter(|d| !only.contains(&d.as_str())) {
                out.push(Violation {
                    rule: "allowed-deps",
                    place: p.name.clone(),
                    what: format!("depends on {d}"),
                });
            }
        }
        for d in &p.internal {
            if ws.get(d).is_some_and(|dep| dep.under(root, "bins")) {
                out.push(Violation {
                    rule: "nothing-depends-on-a-binary",
                    place: p.name.clone(),
                    what: format!("depends on {d}"),
                });
            }
        }
    }
}

pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

// ---- paths a file names -----------------------------------------------------------------------

/// The leaves of a `use` tree as full paths (`use std::{fs, io::stdin as s}` gives `std::fs`
/// and `std::io::stdin`; a glob gives its parent with a trailing `*`), each with the name it
/// binds in the file (`None` for a glob).
fn use_leaves(tree: &syn::UseTree, prefix: &str, out: &mut Vec<(String, Option<String>)>) {
    let join = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}::{name}")
        }
    };
    match tree {
        syn::UseTree::Path(p) => use_leaves(&p.tree, &join(&p.ident.to_string()), out),
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                let bound = prefix.rsplit("::").next().unwrap_or(prefix).to_owned();
                out.push((prefix.to_owned(), Some(bound)));
            } else {
                out.push((join(&name), Some(name)));
            }
        }
        syn::UseTree::Rename(r) => {
            let name = r.ident.to_string();
            let full = if name == "self" {
                prefix.to_owned()
            } else {
                join(&name)
            };
            out.push((full, Some(r.rename.to_string())));
        }
        syn::UseTree::Glob(_) => out.push((join("*"), None)),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                use_leaves(t, prefix, out);
            }
        }
    }
}

fn path_string(p: &syn::Path) -> String {
    p.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// Every path a file names, in full where a `use` (or an `extern crate … as`) says what its
/// first segment stands for: imports, paths in code and types, and `a::b` sequences inside
/// macro invocations.
#[derive(Default)]
struct Paths {
    /// Name bound in the file → the full path it stands for.
    aliases: BTreeMap<String, String>,
    named: Vec<String>,
    macros: Vec<String>,
    /// Leave `#[cfg(test)]` modules out (tests may use an independent oracle).
    skip_tests: bool,
}

impl Paths {
    fn of(ast: &syn::File) -> Self {
        Self::collect(ast, false)
    }

    fn collect(ast: &syn::File, skip_tests: bool) -> Self {
        let mut p = Paths {
            skip_tests,
            ..Paths::default()
        };
        p.visit_file(ast);
        let expanded = p.named.iter().map(|n| p.expand(n)).collect();
        p.named = expanded;
        p
    }

    fn expand(&self, path: &str) -> String {
        let path = path.trim_start_matches("::");
        let (first, rest) = path.split_once("::").unwrap_or((path, ""));
        match self.aliases.get(first) {
            Some(full) if full != first && !full.ends_with("::*") => {
                if rest.is_empty() {
                    full.clone()
                } else {
                    format!("{full}::{rest}")
                }
            }
            _ => path.to_owned(),
        }
    }

    fn tokens(&mut self, tokens: proc_macro2::TokenStream) {
        let mut current: Vec<String> = Vec::new();
        let mut colons = 0;
        let flush = |current: &mut Vec<String>, named: &mut Vec<String>| {
            if !current.is_empty() {
                named.push(current.join("::"));
                current.clear();
            }
        };
        for tt in tokens {
            match tt {
                proc_macro2::TokenTree::Ident(i) => {
                    if colons != 2 {
                        flush(&mut current, &mut self.named);
                    }
                    current.push(i.to_string());
                    colons = 0;
                }
                proc_macro2::TokenTree::Punct(p) if p.as_char() == ':' => colons += 1,
                proc_macro2::TokenTree::Group(g) => {
                    flush(&mut current, &mut self.named);
                    colons = 0;
                    self.tokens(g.stream());
                }
                _ => {
                    flush(&mut current, &mut self.named);
                    colons = 0;
                }
            }
        }
        flush(&mut current, &mut self.named);
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !(self.skip_tests && is_test(&m.attrs)) {
            syn::visit::visit_item_mod(self, m);
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut leaves = Vec::new();
        use_leaves(&u.tree, "", &mut leaves);
        for (full, bound) in leaves {
            if let Some(b) = bound {
                self.aliases.insert(b, full.clone());
            }
            self.named.push(full);
        }
    }

    fn visit_item_extern_crate(&mut self, e: &'ast syn::ItemExternCrate) {
        let name = e.ident.to_string();
        if let Some((_, alias)) = &e.rename {
            self.aliases.insert(alias.to_string(), name.clone());
        }
        self.named.push(name);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        self.named.push(path_string(p));
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.macros.push(path_string(&m.path));
        self.named.push(path_string(&m.path));
        self.tokens(m.tokens.clone());
    }
}

// ---- no I/O ------------------------------------------------------------------------------------

/// Crates that must do no I/O: they name no file, network, environment, process, clock,
/// terminal or database API, and no store. The assistant among them: a sentence in, an
/// intent out, nothing read or executed on the way.
const NO_IO: [&str; 5] = [
    "keyhold-access",
    "keyhold-assistant",
    "keyhold-audit",
    "keyhold-rotation",
    "keyhold-token",
];

/// Full paths (and everything under them) a no-I/O crate may not name. Of `std::net`, the
/// sockets and name resolution; its address types are plain values.
const IO_PATHS: [&str; 16] = [
    "std::fs",
    "std::net::TcpListener",
    "std::net::TcpStream",
    "std::net::ToSocketAddrs",
    "std::net::UdpSocket",
    "std::env",
    "std::process",
    "std::io::stdin",
    "std::io::stdout",
    "std::io::stderr",
    "std::time::SystemTime",
    "std::time::UNIX_EPOCH",
    "std::time::Instant::now",
    "std::thread::available_parallelism",
    "rusqlite",
    "keyhold_store",
];

/// Macros that write to the terminal.
const IO_MACROS: [&str; 5] = ["println", "eprintln", "print", "eprint", "dbg"];

fn io_path(path: &str) -> Option<&'static str> {
    let path = path
        .strip_prefix("core::")
        .map_or(path.to_owned(), |rest| format!("std::{rest}"));
    if let Some(parent) = path.strip_suffix("::*") {
        // A glob brings in whatever lies under its parent.
        return IO_PATHS.into_iter().find(|f| {
            *f == parent
                || f.starts_with(&format!("{parent}::"))
                || parent.starts_with(&format!("{f}::"))
        });
    }
    IO_PATHS
        .into_iter()
        .find(|f| path == *f || path.starts_with(&format!("{f}::")))
}

fn no_io(ast: &syn::File, place: &str, out: &mut Vec<Violation>) {
    let paths = Paths::of(ast);
    let mut seen = BTreeSet::new();
    for p in &paths.named {
        if let Some(f) = io_path(p)
            && seen.insert(f)
        {
            out.push(Violation {
                rule: "no-io",
                place: place.to_owned(),
                what: format!("names {f}"),
            });
        }
    }
    for m in &paths.macros {
        let name = m.rsplit("::").next().unwrap_or(m);
        if IO_MACROS.contains(&name) && seen.insert(name_static(name)) {
            out.push(Violation {
                rule: "no-io",
                place: place.to_owned(),
                what: format!("uses {name}!"),
            });
        }
    }
}

fn name_static(name: &str) -> &'static str {
    IO_MACROS
        .into_iter()
        .find(|m| *m == name)
        .unwrap_or("macro")
}

// ---- primitives --------------------------------------------------------------------------------

/// Crates of cryptographic primitives only keyhold-crypto may name: randomness, Ed25519,
/// digests, MACs, AEAD and password hashing have one implementation, one set of checks and one
/// zeroize story.
const PRIMITIVE_CRATES: [&str; 3] = ["argon2", "chacha20poly1305", "ring"];

fn primitives_from_crypto(ast: &syn::File, place: &str, out: &mut Vec<Violation>) {
    let paths = Paths::collect(ast, true);
    let mut seen = BTreeSet::new();
    for p in &paths.named {
        // A crate is named by a path of two segments or more (`ring::rand`); a lone `ring` is
        // a local binding or field.
        let Some((first, _)) = p.split_once("::") else {
            continue;
        };
        if let Some(c) = PRIMITIVE_CRATES.into_iter().find(|c| *c == first)
            && seen.insert(c)
        {
            out.push(Violation {
                rule: "primitives-from-crypto",
                place: place.to_owned(),
                what: format!("names {c}"),
            });
        }
    }
}

// ---- the facade's re-exports -------------------------------------------------------------------

/// Token-crate vocabulary the facade may hand on: value types whose every value comes from their
/// own checked constructors or fixed variants, and the constants that go with them. Anything
/// else of keyhold-token, and everything of keyhold-store, stays below the facade: a binary that
/// could build a store filter or a token error would be writing the layers' rules itself.
pub const TOKEN_VOCABULARY: [&str; 10] = [
    "DEFAULT_LEEWAY",
    "ExpiryPreset",
    "Jwk",
    "Jwks",
    "MAX_TOKEN_LEN",
    "STANDING_MAX_AGE",
    "Scope",
    "ScopeSet",
    "VERIFY_CACHE_CAPACITY",
    "VerifyingKey",
];

const LOWER: [&str; 2] = ["keyhold_store", "keyhold_token"];

fn lower_path(full: &str) -> Option<&'static str> {
    let full = full.trim_start_matches("::");
    LOWER
        .into_iter()
        .find(|l| full == *l || full.starts_with(&format!("{l}::")))
}

fn reexport_allowed(full: &str) -> bool {
    let full = full.trim_start_matches("::");
    match full.strip_prefix("keyhold_token::") {
        Some(rest) => TOKEN_VOCABULARY.contains(&rest),
        None => false,
    }
}

struct Reexports<'a> {
    place: &'a str,
    /// The file's imports, so that `use keyhold_store as s; pub use s::X;` is seen for what it is.
    paths: &'a Paths,
    out: &'a mut Vec<Violation>,
}

impl Reexports<'_> {
    fn flag(&mut self, what: String) {
        self.out.push(Violation {
            rule: "facade-hands-on-no-lower-type",
            place: self.place.to_owned(),
            what,
        });
    }
}

impl<'ast> Visit<'ast> for Reexports<'_> {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        if !matches!(u.vis, syn::Visibility::Public(_)) {
            return;
        }
        let mut leaves = Vec::new();
        use_leaves(&u.tree, "", &mut leaves);
        for (full, _) in leaves {
            let full = self.paths.expand(full.trim_start_matches("self::"));
            if lower_path(&full).is_some() && !reexport_allowed(&full) {
                self.flag(format!("pub use {full}"));
            }
        }
    }

    fn visit_item_type(&mut self, t: &'ast syn::ItemType) {
        if matches!(t.vis, syn::Visibility::Public(_)) {
            let mut paths = Paths::default();
            paths.visit_type(&t.ty);
            for p in paths.named {
                let p = self.paths.expand(&p);
                if lower_path(&p).is_some() && !reexport_allowed(&p) {
                    self.flag(format!("pub type {} = {p}", t.ident));
                }
            }
        }
    }

    fn visit_item_extern_crate(&mut self, e: &'ast syn::ItemExternCrate) {
        if matches!(e.vis, syn::Visibility::Public(_)) && lower_path(&e.ident.to_string()).is_some()
        {
            self.flag(format!("pub extern crate {}", e.ident));
        }
    }
}

fn reexports(ast: &syn::File, place: &str, out: &mut Vec<Violation>) {
    let paths = Paths::of(ast);
    let mut v = Reexports {
        place,
        paths: &paths,
        out,
    };
    v.visit_file(ast);
}

// ---- sizes -------------------------------------------------------------------------------------

/// Longest source file, in lines.
pub const MAX_FILE_LINES: usize = 500;
/// Longest function (signature to closing brace), in lines; test code excepted.
pub const MAX_FN_LINES: usize = 80;

fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        (a.path().is_ident("cfg") || a.path().is_ident("test"))
            && (a.path().is_ident("test")
                || a.parse_args::<syn::Meta>()
                    .is_ok_and(|m| m.path().is_ident("test")))
    })
}

struct Sizes<'a> {
    place: &'a str,
    out: &'a mut Vec<Violation>,
}

impl Sizes<'_> {
    fn measure(&mut self, name: &syn::Ident, span: proc_macro2::Span) {
        let lines = span.end().line + 1 - span.start().line;
        if lines > MAX_FN_LINES {
            self.out.push(Violation {
                rule: "size",
                place: self.place.to_owned(),
                what: format!("fn {name}: {lines} lines"),
            });
        }
    }
}

impl<'ast> Visit<'ast> for Sizes<'_> {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_test(&m.attrs) {
            syn::visit::visit_item_mod(self, m);
        }
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if !is_test(&f.attrs) {
            self.measure(&f.sig.ident, syn::spanned::Spanned::span(f));
            syn::visit::visit_item_fn(self, f);
        }
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_test(&f.attrs) {
            self.measure(&f.sig.ident, syn::spanned::Spanned::span(f));
            syn::visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if f.default.is_some() {
            self.measure(&f.sig.ident, syn::spanned::Spanned::span(f));
        }
        syn::visit::visit_trait_item_fn(self, f);
    }
}

/// Files over [`MAX_FILE_LINES`] and functions over [`MAX_FN_LINES`].
pub fn sizes(ast: &syn::File, text: &str, place: &str, out: &mut Vec<Violation>) {
    let lines = text.lines().count();
    if lines > MAX_FILE_LINES {
        out.push(Violation {
            rule: "size",
            place: place.to_owned(),
            what: format!("file: {lines} lines"),
        });
    }
    Sizes { place, out }.visit_file(ast);
}

/// Lines of library code (test modules at a file's end excluded) per package under `crates/`.
pub fn library_lines(root: &Path, ws: &BTreeMap<String, Package>) -> BTreeMap<String, usize> {
    ws.values()
        .filter(|p| p.under(root, "crates"))
        .map(|p| {
            let n = rust_files(&p.dir.join("src"))
                .iter()
                .map(|f| {
                    let text = std::fs::read_to_string(f).expect("source");
                    text.lines()
                        .take_while(|l| !l.trim_start().starts_with("#[cfg(test)]"))
                        .filter(|l| {
                            let t = l.trim();
                            !t.is_empty() && !t.starts_with("//")
                        })
                        .count()
                })
                .sum();
            (p.name.clone(), n)
        })
        .collect()
}
