//! The layering of src/ (docs/architecture.md), checked: every `src/**/*.rs` is read, the paths
//! it names (`use` trees expanded, `crate::…` and `super::…` resolved to crate paths, and
//! outside paths such as `std::fs::…`) are collected per module, and every path that crosses a
//! forbidden edge is reported with its file and line.
//!
//! This reads source text, not the compiler's view: comments, string and char literals are
//! blanked first, and a name brought in by `use` and then used bare (`Utc::now()` after
//! `use chrono::Utc`) is caught by its last segments. It is a guard against drift, not a proof.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// Known crossings kept on purpose, each with the reason: (file, path prefix, why). A path is
/// allowed when it starts with the prefix. Keep this list short; a new entry needs a reason a
/// reviewer would accept.
const ALLOWED: &[(&str, &str, &str)] = &[
    // Test code only: the limiter is tested against the quotas the real formats ask for,
    // which only the webhook registry knows. No product code of ratelimit names webhook.
    (
        "src/notify/ratelimit.rs",
        "crate::notify::webhook::find",
        "ratelimit's tests read the real platform quotas from the webhook registry",
    ),
];

/// The receivers proper (under `notify::`); none imports another. The other modules under
/// notify/ but the outbox (render, template, ratelimit) are helpers every receiver shares; they
/// too import no receiver.
const RECEIVERS: &[&str] = &["email", "webhook", "log", "alertmanager_api"];
/// Files under notify/webhook/ that every format shares (the trait, the registry, chat text).
const WEBHOOK_SHARED: &[&str] = &["format", "chat"];
/// Modules that run a cycle or sit above it; they may join everything.
const ORCHESTRATION: &[&str] = &["cycle", "app", "daemon", "commands", "demo", "main"];

/// Outside paths that do I/O or read the wall clock: the rules engine names none of them.
const IO_PREFIXES: &[&str] = &[
    "reqwest",
    "rusqlite",
    "lettre",
    "hyper",
    "tokio::net",
    "tokio::fs",
    "std::fs",
    "std::net",
];
/// Wall-clock reads, matched by their last two segments (`chrono::Utc::now`, or `Utc::now`
/// after `use chrono::Utc`).
const CLOCK_CALLS: &[&str] = &["Utc::now", "SystemTime::now", "Local::now"];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Violation {
    file: String,
    line: usize,
    path: String,
    rule: &'static str,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: `{}` — {}",
            self.file, self.line, self.path, self.rule
        )
    }
}

/// A path named in a file: its segments (crate paths without the leading `crate`) and line.
#[derive(Debug, Clone)]
struct Named {
    line: usize,
    /// `Some` for a path inside this crate, `None` for an outside one.
    in_crate: bool,
    segments: Vec<String>,
}

impl Named {
    fn text(&self) -> String {
        if self.in_crate {
            format!("crate::{}", self.segments.join("::"))
        } else {
            self.segments.join("::")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the source
// ---------------------------------------------------------------------------------------------

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under src/: `notify/webhook/slack.rs` → `notify::webhook::slack`,
/// `state/mod.rs` → `state`, `lib.rs` → the root (empty), `main.rs` → `main`.
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().expect("a file name");
    let stem = file.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The text with comments, string literals and char literals replaced by spaces (newlines
/// kept, so that line numbers stay true).
fn blank_non_code(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let blank = |ch: char| if ch == '\n' { '\n' } else { ' ' };
    while i < c.len() {
        // Line comment (also doc comments).
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                out.push(' ');
                i += 1;
            }
            continue;
        }
        // Block comment, nested.
        if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
            continue;
        }
        // Raw string: r"…", r#"…"#, br#"…"#.
        let raw_start = if c[i] == 'r' {
            Some(i + 1)
        } else if c[i] == 'b' && c.get(i + 1) == Some(&'r') {
            Some(i + 2)
        } else {
            None
        };
        let ident_before = i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_');
        if let (Some(mut j), false) = (raw_start, ident_before) {
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) == Some(&'"') {
                for _ in i..=j {
                    out.push(' ');
                }
                i = j + 1;
                loop {
                    if i >= c.len() {
                        break;
                    }
                    if c[i] == '"' && (0..hashes).all(|k| c.get(i + 1 + k) == Some(&'#')) {
                        for _ in 0..=hashes {
                            out.push(' ');
                        }
                        i += 1 + hashes;
                        break;
                    }
                    out.push(blank(c[i]));
                    i += 1;
                }
                continue;
            }
        }
        // Plain (or byte) string.
        if c[i] == '"' {
            out.push(' ');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < c.len() {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
            continue;
        }
        // Char literal ('x', '\n', '\u{..}'); a lifetime ('a) is left alone.
        if c[i] == '\'' {
            if c.get(i + 1) == Some(&'\\') {
                let mut j = i + 2;
                while j < c.len() && c[j] != '\'' {
                    j += 1;
                }
                for _ in i..=j.min(c.len() - 1) {
                    out.push(' ');
                }
                i = j + 1;
                continue;
            }
            if c.get(i + 2) == Some(&'\'') {
                out.push_str("   ");
                i += 3;
                continue;
            }
        }
        out.push(c[i]);
        i += 1;
    }
    out
}

/// Tokens the path reader needs: identifiers, `::`, and single punctuation.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Punct(char),
}

fn tokenize(code: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = code.chars().collect();
    let mut line = 1;
    let mut toks = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            // Raw identifiers (r#type) read as the identifier.
            toks.push((Tok::Ident(word.trim_start_matches("r#").to_string()), line));
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_' || c[i] == '.') {
                i += 1;
            }
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            toks.push((Tok::PathSep, line));
            i += 2;
        } else {
            toks.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    toks
}

/// Expands a `use` tree starting at `toks[*i]` into full paths (prefix + tree), advancing `i`
/// past it. Stops at `,`, `}` or `;` without consuming them.
fn use_tree(
    toks: &[(Tok, usize)],
    i: &mut usize,
    prefix: &[String],
    out: &mut Vec<(Vec<String>, usize)>,
) {
    let mut path = prefix.to_vec();
    let mut line = toks.get(*i).map(|t| t.1).unwrap_or(0);
    loop {
        match toks.get(*i) {
            Some((Tok::Ident(word), l)) => {
                if word == "as" {
                    // `as name`: the alias does not change what is imported.
                    *i += 2;
                    continue;
                }
                line = *l;
                path.push(word.clone());
                *i += 1;
            }
            Some((Tok::PathSep, _)) => *i += 1,
            Some((Tok::Punct('*'), _)) => *i += 1,
            Some((Tok::Punct('{'), _)) => {
                *i += 1;
                loop {
                    match toks.get(*i) {
                        Some((Tok::Punct('}'), _)) => {
                            *i += 1;
                            break;
                        }
                        Some((Tok::Punct(','), _)) => *i += 1,
                        Some(_) => use_tree(toks, i, &path, out),
                        None => return,
                    }
                }
                return;
            }
            _ => {
                if !path.is_empty() {
                    out.push((path, line));
                }
                return;
            }
        }
    }
}

/// Resolves a raw path named in module `module` (with `self` for `self::`, one `super` per
/// level) to a crate path, or returns it as an outside path.
fn resolve(
    raw: &[String],
    module: &[String],
    crate_alias: Option<&str>,
    line: usize,
) -> Option<Named> {
    let first = raw.first()?;
    let is_crate = first == "crate" || Some(first.as_str()) == crate_alias;
    if is_crate {
        return Some(Named {
            line,
            in_crate: true,
            segments: raw[1..].to_vec(),
        });
    }
    if first == "super" || first == "self" {
        let mut base = module.to_vec();
        let mut rest = raw;
        if first == "self" {
            rest = &raw[1..];
        }
        while rest.first().map(String::as_str) == Some("super") {
            base.pop();
            rest = &rest[1..];
        }
        base.extend(rest.iter().cloned());
        return Some(Named {
            line,
            in_crate: true,
            segments: base,
        });
    }
    Some(Named {
        line,
        in_crate: false,
        segments: raw.to_vec(),
    })
}

/// Every path a file names, resolved. `module` is the file's module; inline `mod name { … }`
/// blocks are tracked so that `super::` inside them resolves from the right place.
fn named_paths(code: &str, module: &[String], crate_alias: Option<&str>) -> Vec<Named> {
    let toks = tokenize(code);
    let mut out = Vec::new();
    // Inline modules: (name, brace depth at which their block closes).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let current = |inline: &[(String, usize)]| {
        let mut m = module.to_vec();
        m.extend(inline.iter().map(|(n, _)| n.clone()));
        m
    };
    let mut i = 0;
    while i < toks.len() {
        match &toks[i].0 {
            Tok::Punct('{') => {
                depth += 1;
                i += 1;
            }
            Tok::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            Tok::Ident(word) if word == "mod" => {
                if let (Some((Tok::Ident(name), _)), Some((Tok::Punct('{'), _))) =
                    (toks.get(i + 1), toks.get(i + 2))
                {
                    inline.push((name.clone(), depth + 1));
                }
                i += 1;
            }
            Tok::Ident(word) if word == "use" => {
                i += 1;
                let mut paths = Vec::new();
                use_tree(&toks, &mut i, &[], &mut paths);
                let here = current(&inline);
                out.extend(
                    paths
                        .iter()
                        .filter_map(|(p, line)| resolve(p, &here, crate_alias, *line)),
                );
            }
            Tok::Ident(_) if toks.get(i + 1).map(|t| &t.0) == Some(&Tok::PathSep) => {
                // A path in code: ident (:: ident)*, starting at an identifier that is not
                // itself the tail of a longer path.
                let line = toks[i].1;
                let mut raw = Vec::new();
                while let Some((Tok::Ident(w), _)) = toks.get(i) {
                    raw.push(w.clone());
                    i += 1;
                    if toks.get(i).map(|t| &t.0) == Some(&Tok::PathSep) {
                        i += 1;
                        // `::<T>` turbofish or `::{` ends the path.
                        if !matches!(toks.get(i), Some((Tok::Ident(_), _))) {
                            break;
                        }
                    } else {
                        break;
                    }
                }
                if let Some(named) = resolve(&raw, &current(&inline), crate_alias, line) {
                    out.push(named);
                }
            }
            _ => i += 1,
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------------------------

/// Which part of the program a module belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Layer {
    Rules,
    Config,
    /// A receiver (`email`, `webhook`, `log`) or a receiver helper, by its name under notify.
    Receiver(String),
    Sources,
    State,
    /// notify's hub (notify/mod.rs), the outbox and the refresh of open alerts.
    NotifyCore,
    Orchestration,
    Other,
}

fn layer_of(module: &[String]) -> Layer {
    let first = module.first().map(String::as_str).unwrap_or("");
    match first {
        "rules" => Layer::Rules,
        "config" => Layer::Config,
        "sources" | "huawei" => Layer::Sources,
        "state" => Layer::State,
        "notify" => match module.get(1).map(String::as_str) {
            // The refresh, like the outbox, reads the state and calls receivers.
            None | Some("outbox") | Some("refresh") => Layer::NotifyCore,
            Some(name) => Layer::Receiver(name.to_string()),
        },
        m if ORCHESTRATION.contains(&m) => Layer::Orchestration,
        _ => Layer::Other,
    }
}

/// The four parts only a cycle (or what runs it) joins.
fn joined_part(path: &[String]) -> Option<&'static str> {
    match path.first().map(String::as_str)? {
        "sources" | "huawei" => Some("sources"),
        "rules" => Some("rules"),
        "state" => Some("state"),
        "notify" => Some("receivers"),
        _ => None,
    }
}

fn starts_with(path: &[String], prefix: &str) -> bool {
    let want: Vec<&str> = prefix.split("::").collect();
    path.len() >= want.len() && path.iter().zip(&want).all(|(a, b)| a == b)
}

/// The rules a path named by `module` breaks.
fn check(module: &[String], named: &Named) -> Vec<&'static str> {
    let mut broken = Vec::new();
    let layer = layer_of(module);
    let p = &named.segments;
    if !named.in_crate {
        let io = IO_PREFIXES.iter().any(|pre| starts_with(p, pre));
        let clock = CLOCK_CALLS
            .iter()
            .any(|call| p.len() >= 2 && p[p.len() - 2..].join("::") == *call);
        if layer == Layer::Rules && io {
            broken
                .push("the rules engine does no I/O (it gets observations and returns decisions)");
        }
        if layer == Layer::Rules && clock {
            broken.push("the rules engine reads no clock: `now` is passed in");
        }
        return broken;
    }
    let target = layer_of(p);
    match &layer {
        Layer::Rules if target == Layer::Config => {
            broken.push("the rules engine imports no config: rules get compiled rule sets, not the config file's types");
        }
        Layer::Config if !(starts_with(p, "model") || starts_with(p, "config")) => {
            broken.push("config imports nothing of the crate but crate::model");
        }
        Layer::Receiver(mine) => {
            if let Layer::Receiver(theirs) = &target {
                // Helpers (render, template, ratelimit) are shared; receivers are not.
                if theirs != mine && RECEIVERS.contains(&theirs.as_str()) {
                    broken.push("a receiver imports no other receiver (shared code goes in render, template or ratelimit)");
                }
                // Webhook formats: one file each, sharing only mod.rs, format.rs and chat.rs.
                if mine == "webhook" && theirs == "webhook" {
                    let my_format = module.get(2).map(String::as_str);
                    let their_format = p.get(2).map(String::as_str);
                    if let (Some(a), Some(b)) = (my_format, their_format) {
                        let is_format = |f: &str| !WEBHOOK_SHARED.contains(&f) && f != "tests";
                        if a != b && is_format(a) && is_format(b) {
                            broken.push("a webhook format file imports no other format file");
                        }
                    }
                }
            }
            if target == Layer::NotifyCore && starts_with(p, "notify::outbox") {
                broken
                    .push("a receiver does not reach into the outbox (the outbox calls receivers)");
            }
            if target == Layer::State {
                broken.push("a receiver imports no crate::state: it sends what it is given");
            }
            if target == Layer::Sources {
                broken.push("a receiver imports no crate::sources");
            }
        }
        Layer::Sources => match target {
            Layer::State => broken.push("a source imports no crate::state"),
            Layer::Rules => broken.push("a source imports no crate::rules"),
            Layer::NotifyCore | Layer::Receiver(_) => {
                broken.push("a source imports no crate::notify")
            }
            _ => {}
        },
        _ => {}
    }
    broken
}

/// A module outside orchestration that names two or more of sources, rules, state and
/// receivers besides its own part joins them: only the cycle and what runs it may.
fn joins(module: &[String], named: &[Named]) -> Option<BTreeSet<&'static str>> {
    if layer_of(module) == Layer::Orchestration {
        return None;
    }
    let own = joined_part(module);
    let parts: BTreeSet<&'static str> = named
        .iter()
        .filter(|n| n.in_crate)
        .filter_map(|n| joined_part(&n.segments))
        .filter(|part| Some(*part) != own)
        .collect();
    (parts.len() >= 2).then_some(parts)
}

fn allowed(file: &str, path: &str) -> bool {
    ALLOWED
        .iter()
        .any(|(f, prefix, _)| *f == file && path.starts_with(prefix))
}

fn violations() -> Vec<Violation> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(
        files.len() > 20,
        "found only {} files under src/",
        files.len()
    );
    let mut found = BTreeSet::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src");
        let module = module_of(relative);
        let shown = format!("src/{}", relative.display());
        let text = std::fs::read_to_string(file).expect("read source");
        // main.rs is its own crate and names the library as `renewd::`.
        let alias = (relative == Path::new("main.rs")).then_some("renewd");
        let named = named_paths(&blank_non_code(&text), &module, alias);
        for n in &named {
            let path = n.text();
            if allowed(&shown, &path) {
                continue;
            }
            for rule in check(&module, n) {
                found.insert(Violation {
                    file: shown.clone(),
                    line: n.line,
                    path: path.clone(),
                    rule,
                });
            }
        }
        if let Some(parts) = joins(&module, &named) {
            for n in named.iter().filter(|n| n.in_crate) {
                let path = n.text();
                if joined_part(&n.segments).is_some_and(|p| parts.contains(p))
                    && !allowed(&shown, &path)
                {
                    found.insert(Violation {
                        file: shown.clone(),
                        line: n.line,
                        path,
                        rule: "only the cycle (and app, daemon, commands, demo, main) joins sources, rules, state and receivers",
                    });
                }
            }
        }
    }
    found.into_iter().collect()
}

#[test]
fn no_module_imports_across_a_forbidden_edge() {
    let found = violations();
    assert!(
        found.is_empty(),
        "{} import(s) cross a layer boundary (see docs/architecture.md; move the import, or \
         add an entry with its reason to ALLOWED in tests/layering.rs):\n{}",
        found.len(),
        found
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_allow_list_entry_is_still_needed() {
    // An entry that matches nothing hides nothing and should go.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (file, prefix, why) in ALLOWED {
        let text = std::fs::read_to_string(root.join(file))
            .unwrap_or_else(|e| panic!("ALLOWED names {file}, which cannot be read: {e}"));
        let relative = Path::new(file).strip_prefix("src").expect("under src");
        let module = module_of(relative);
        let hit = named_paths(&blank_non_code(&text), &module, None)
            .iter()
            .any(|n| n.text().starts_with(prefix));
        assert!(
            hit,
            "ALLOWED entry ({file}, {prefix}: {why}) matches nothing; remove it"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The reader itself: a checker that sees nothing would pass everything.
// ---------------------------------------------------------------------------------------------

fn texts(code: &str, module: &[&str]) -> Vec<String> {
    let module: Vec<String> = module.iter().map(|s| s.to_string()).collect();
    named_paths(&blank_non_code(code), &module, None)
        .iter()
        .map(Named::text)
        .collect()
}

#[test]
fn use_trees_super_and_inline_paths_are_resolved() {
    let code = r#"
use crate::model::{Alert, sub::{A, B as C}};
use super::ratelimit::{self, Quota};
use std::{fs, net::TcpStream};
// use crate::state::Hidden;
const S: &str = "crate::state::InString";
fn f() { let _ = crate::state::StateStore::open("x"); let _ = Utc::now(); }
mod tests {
    use super::*;
    use super::super::render;
}
"#;
    let got = texts(code, &["notify", "webhook"]);
    for want in [
        "crate::model::Alert",
        "crate::model::sub::A",
        "crate::model::sub::B",
        "crate::notify::ratelimit::self",
        "crate::notify::ratelimit::Quota",
        "std::fs",
        "std::net::TcpStream",
        "crate::state::StateStore::open",
        "Utc::now",
        "crate::notify::webhook",
        "crate::notify::render",
    ] {
        assert!(got.contains(&want.to_string()), "{want} not in {got:#?}");
    }
    assert!(
        !got.iter()
            .any(|p| p.contains("Hidden") || p.contains("InString")),
        "comments and strings are not code: {got:#?}"
    );
}

#[test]
fn each_rule_catches_what_it_forbids() {
    let cases: &[(&[&str], &str, bool)] = &[
        (&["rules", "packages"], "use std::fs::read;", true),
        (
            &["rules", "packages"],
            "fn f() { chrono::Utc::now(); }",
            true,
        ),
        (&["rules", "packages"], "use crate::config::Config;", true),
        (&["rules", "packages"], "use crate::model::Alert;", false),
        (&["config", "rules"], "use crate::notify::Digest;", true),
        (&["config", "rules"], "use crate::model::Severity;", false),
        (&["config", "rules"], "use super::problem::Problem;", false),
        (
            &["notify", "email", "smtp"],
            "use crate::notify::webhook::WebhookFormat;",
            true,
        ),
        (
            &["notify", "webhook", "slack"],
            "use super::teams::Card;",
            true,
        ),
        (
            &["notify", "webhook", "slack"],
            "use super::chat::ChatTemplate;",
            false,
        ),
        (
            &["notify", "webhook", "slack"],
            "use crate::notify::render;",
            false,
        ),
        (
            &["notify", "render"],
            "use crate::notify::email::Body;",
            true,
        ),
        (&["notify", "log"], "use crate::state::StateStore;", true),
        (
            &["notify", "log"],
            "use crate::notify::outbox::deliver;",
            true,
        ),
        (
            &["sources", "codearts", "client"],
            "use crate::rules::Observation;",
            true,
        ),
        (&["huawei", "auth"], "use crate::state::StateStore;", true),
        (&["huawei", "auth"], "use crate::notify::Digest;", true),
        (
            &["cycle"],
            "use crate::state::StateStore; use crate::config::Config;",
            false,
        ),
    ];
    for (module, code, bad) in cases {
        let module: Vec<String> = module.iter().map(|s| s.to_string()).collect();
        let named = named_paths(&blank_non_code(code), &module, None);
        let broken: Vec<_> = named.iter().flat_map(|n| check(&module, n)).collect();
        assert_eq!(!broken.is_empty(), *bad, "{module:?}: {code} → {broken:?}");
    }
    let metrics: Vec<String> = vec!["metrics".into()];
    let joined = named_paths(
        "use crate::state::StateStore; use crate::rules::Observation;",
        &metrics,
        None,
    );
    assert!(
        joins(&metrics, &joined).is_some(),
        "state + rules outside the cycle"
    );
}
