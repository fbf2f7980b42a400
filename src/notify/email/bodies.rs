//! What a digest says in mail when the receiver has no template of its own: the plain-text
//! part and the HTML part, rendered by the built-in minijinja templates in `templates/` from a
//! typed context (tested without SMTP). Every value in the HTML is escaped; only `https://`
//! links are made clickable.
//!
//! The built-in templates are compiled once, in an environment of their own: their values are
//! escaped by renewd's own rules (see [`format_value`]), not minijinja's, and they run without
//! the fuel and size limits of a receiver's templates, as the `write!` code before them did (a
//! digest of thousands of packages renders in full; these templates cannot loop for ever).

use crate::model::{package_status_name, Alert};
use crate::notify::render::{
    escape_html, expiry_label, expiry_phrase, kind_label, kind_name, local_time, plural,
    project_label, remaining_label, safe_link, severity_word, single_line, sorted_by_urgency,
    status_label, subject, subject_name, summary_line, what_happened,
};
use crate::notify::Digest;
use minijinja::{AutoEscape, Environment, Output, State, UndefinedBehavior, Value};
use serde::Serialize;
use std::fmt::Write as _;
use std::sync::LazyLock;

/// Template names; the `.html` in a name turns on HTML escaping (minijinja strips the `.j2`).
const TEXT: &str = "digest.txt.j2";
const HTML: &str = "digest.html.j2";

static BUILT_IN: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.set_formatter(format_value);
    for (name, source) in [
        (TEXT, include_str!("templates/digest.txt.j2")),
        (HTML, include_str!("templates/digest.html.j2")),
    ] {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("built-in email template {name}: {e}"));
    }
    env
});

/// Compiles the built-in templates, if no receiver has yet: called when a receiver is built,
/// so that no message waits for it.
pub(super) fn compile() {
    LazyLock::force(&BUILT_IN);
}

/// How the built-in templates print a value: HTML-escaped in the HTML part, on one line in
/// the text part (a value from the API cannot start a line of its own). Markup comes only
/// from the templates' own text (and what they mark `|safe`).
fn format_value(
    out: &mut Output<'_>,
    state: &State<'_, '_>,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if value.is_safe() {
        return write!(out, "{value}").map_err(minijinja::Error::from);
    }
    if value.is_none() {
        return Ok(());
    }
    let text = value.to_string();
    let shown = match state.auto_escape() {
        AutoEscape::None => single_line(&text),
        _ => escape_html(&text),
    };
    out.write_str(&shown).map_err(minijinja::Error::from)
}

/// What the built-in templates see.
#[derive(Serialize)]
struct BodyContext<'a> {
    /// The subject line.
    title: String,
    /// The subject's words without its `[renewd] ` tag.
    headline: String,
    /// What the digest holds, counted by kind: `1 expired, 2 expire within 7 days` (the HTML
    /// part's first line).
    summary: String,
    receiver: &'a str,
    sent_at: String,
    /// Every alert, most urgent first: a block each in the text part, a card each in the HTML
    /// part.
    alerts: &'a [Row<'a>],
    footer: &'static str,
}

/// Facts shown for one alert, as render.rs words them, in both parts of the message.
#[derive(Serialize)]
struct Row<'a> {
    /// e.g. `WARNING expiring`.
    kind_label: String,
    /// e.g. `expiring`, `status changed (reminder)`.
    kind_name: String,
    /// `critical`, `warning` or `info`: picks the card's colour.
    severity: &'static str,
    /// `Critical`, `Warning` or `Info`: the colour's meaning in words.
    severity_word: &'static str,
    /// What the card is about: the package key, or the account/project of a poll alert.
    title: String,
    /// e.g. `expires in 11 days (2026-12-07)`; none without remaining days.
    expiry: Option<String>,
    summary: &'a str,
    account: &'a str,
    project: &'a str,
    package: Option<&'a str>,
    resource: Option<&'a str>,
    remain_days: Option<i64>,
    /// e.g. `11 days`.
    remaining: String,
    /// The alert's threshold, e.g. `14 days`.
    threshold: Option<String>,
    /// Whether the remaining days are below zero.
    expired: bool,
    /// The estimated last day, `YYYY-MM-DD`, or `-`.
    expiry_date: String,
    /// e.g. `active (2)`; none when the alert has no status.
    status: Option<String>,
    /// The status before a change, e.g. `active (2)`.
    previous_status: Option<String>,
    /// What a failed poll reported.
    error: Option<String>,
    /// Set only for `https://` links.
    renew_link: Option<&'a str>,
    /// A renewal address that is not `https://`: shown as text, never as a link.
    insecure_url: Option<&'a str>,
}

impl<'a> Row<'a> {
    fn new(a: &'a Alert) -> Row<'a> {
        let renew_link = safe_link(a);
        Row {
            kind_label: kind_label(a),
            kind_name: kind_name(a),
            severity: a.severity.as_str(),
            severity_word: severity_word(a.severity),
            title: subject_name(a),
            expiry: expiry_phrase(a),
            summary: &a.summary,
            account: &a.account,
            project: project_label(a),
            package: a.package.as_deref(),
            resource: a.resource_id.as_deref(),
            remain_days: a.remain_days,
            remaining: remaining_label(a),
            threshold: a
                .threshold
                .map(|t| plural(t.max(0) as usize, "day", "days")),
            expired: a.remain_days.is_some_and(|d| d < 0),
            expiry_date: expiry_label(a),
            status: (a.package_status.is_some() || a.package_status_name.is_some())
                .then(|| status_label(a)),
            previous_status: a
                .previous_status
                .map(|p| format!("{} ({p})", package_status_name(Some(p)))),
            error: poll_error_text(a),
            renew_link,
            insecure_url: match renew_link {
                Some(_) => None,
                None => a.next_action_url.as_deref(),
            },
        }
    }
}

fn poll_error_text(alert: &Alert) -> Option<String> {
    let e = alert.error.as_ref()?;
    let mut text = String::new();
    if let Some(status) = e.http_status {
        let _ = write!(text, "HTTP {status} ");
    }
    if let Some(code) = &e.error_code {
        let _ = write!(text, "{code} ");
    }
    text.push_str(&e.error_msg);
    if let Some(id) = &e.request_id {
        let _ = write!(text, " (request id {id})");
    }
    if e.consecutive_failures > 0 {
        let _ = write!(
            text,
            "; {} in a row",
            plural(
                e.consecutive_failures as usize,
                "failed poll",
                "failed polls"
            )
        );
    }
    Some(single_line(&text))
}

const FOOTER: &str = "Expiry dates are estimated: the day the remaining days were read, plus \
     those days, in GMT+08:00 (Huawei Cloud's billing day). A billing cycle ends at 23:59:59 \
     GMT+08:00 on its last day.";

/// Renders built-in template `name` for `digest`.
fn render(name: &str, digest: &Digest) -> Result<String, minijinja::Error> {
    let rows: Vec<Row> = sorted_by_urgency(&digest.alerts)
        .into_iter()
        .map(Row::new)
        .collect();
    let context = BodyContext {
        title: subject(digest),
        headline: what_happened(digest),
        summary: summary_line(&digest.alerts),
        receiver: &digest.receiver,
        sent_at: local_time(digest.sent_at, digest.timezone),
        alerts: &rows,
        footer: FOOTER,
    };
    BUILT_IN.get_template(name)?.render(&context)
}

/// The plain-text part: readable on its own, one block per alert, the renewal URL on its own
/// line.
pub(super) fn render_text(digest: &Digest) -> Result<String, minijinja::Error> {
    render(TEXT, digest)
}

/// The HTML part: the summary line, then one card per alert, most urgent first, with a Renew
/// button for each `https://` link. Every value is escaped; only `https://` links are
/// clickable.
pub(super) fn render_html(digest: &Digest) -> Result<String, minijinja::Error> {
    render(HTML, digest)
}

/// [`render_text`] for tests, where a failure is a failed test.
#[cfg(test)]
pub(crate) fn text_body(digest: &Digest) -> String {
    render_text(digest).expect("the built-in text template renders")
}

/// [`render_html`] for tests.
#[cfg(test)]
pub(crate) fn html_body(digest: &Digest) -> String {
    render_html(digest).expect("the built-in HTML template renders")
}
