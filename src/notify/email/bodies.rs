//! What a digest says in mail when the receiver has no template of its own: the plain-text
//! part and the HTML part, rendered by the built-in minijinja templates in `templates/` from a
//! typed context (tested without SMTP). Every value in the HTML is escaped; only `https://`
//! links are made clickable.
//!
//! The built-in templates are compiled once, in an environment of their own: their values are
//! escaped by renewd's own rules (see [`format_value`]), not minijinja's, and they run without
//! the fuel and size limits of a receiver's templates, as the `write!` code before them did (a
//! digest of thousands of packages renders in full; these templates cannot loop for ever).

use crate::model::{Alert, Locale, SourceKind};
use crate::notify::i18n;
use crate::notify::render::{
    escape_html, expiry_is_exact, expiry_label, expiry_note, expiry_phrase, kind_label, kind_name,
    local_time, message, poll_error_text, previous_status_label, project_label, remaining_label,
    safe_link, severity_word, silence_lines, silences_heading, single_line, sorted_by_urgency,
    status_label, subject, subject_name, summary_line, what_happened,
};
use crate::notify::Digest;
use minijinja::{AutoEscape, Environment, Output, State, UndefinedBehavior, Value};
use serde::Serialize;
use std::collections::BTreeMap;
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
    env.add_filter("pad", pad);
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

/// Columns a label of the text part takes, with the spaces after it (`Account:     `).
const LABEL_COLUMNS: usize = 13;

/// A label of the text part padded with spaces to [`LABEL_COLUMNS`], counting a CJK character
/// as two columns (as a fixed-width font shows it), so that the values line up.
fn pad(label: String) -> String {
    let width: usize = label.chars().map(columns).sum();
    let spaces = LABEL_COLUMNS.saturating_sub(width).max(1);
    format!("{label}{}", " ".repeat(spaces))
}

/// Columns a character takes in a fixed-width font: two for East Asian wide and full-width
/// characters (CJK ideographs, kana, hangul, full-width punctuation), one otherwise.
fn columns(c: char) -> usize {
    match c as u32 {
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 => 2,
        _ => 1,
    }
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
    /// `Receiver ops, sent 2026-11-26 09:00 CST`.
    receiver_sent: String,
    /// `en` or `zh-CN` (the HTML's `lang`).
    locale: &'static str,
    /// The catalogue's labels (`labels.account`, …) in the digest's locale.
    labels: BTreeMap<&'static str, &'static str>,
    /// Every alert, most urgent first: a block each in the text part, a card each in the HTML
    /// part.
    alerts: &'a [Row<'a>],
    /// The heading of `silences`.
    silences_heading: &'static str,
    /// Silences that end within a day, one line each (none most days).
    silences: Vec<String>,
    /// What the dates are: estimated (CodeArts) or the billing API's own.
    footer: String,
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
    /// What the alert says: the rules' summary in English, worded from its fields otherwise.
    summary: String,
    account: &'a str,
    /// Where it is: `Project:` and the CodeArts project (or `(account)`); for a billing
    /// resource, which has no project, `Region:` and its region.
    place_label: &'static str,
    project: &'a str,
    package: Option<&'a str>,
    /// The label of `package`: `Package:` for a CodeArts package, `Type:` for a billing
    /// resource (whose `package` is its resource type code).
    package_label: &'static str,
    resource: Option<&'a str>,
    remain_days: Option<i64>,
    /// e.g. `11 days`.
    remaining: String,
    /// The alert's threshold, e.g. ` (threshold 14 days)`, or nothing.
    threshold: String,
    /// Whether the remaining days are below zero.
    expired: bool,
    /// The estimated last day, e.g. `2026-12-07 (estimated)`.
    expiry_date: String,
    /// e.g. `active (2)`; none when the alert has no status.
    status: Option<String>,
    /// The status before a change, e.g. `, was active (2)`, or nothing.
    previous_status: String,
    /// What a failed poll reported.
    error: Option<String>,
    /// Set only for `https://` links.
    renew_link: Option<&'a str>,
    /// The Renew button's accessible name, e.g. `Renew codeartsStorageExtension`.
    renew_label: String,
    /// A renewal address that is not `https://`: shown as text, never as a link.
    insecure_url: Option<&'a str>,
}

impl<'a> Row<'a> {
    fn new(a: &'a Alert, locale: Locale) -> Row<'a> {
        let renew_link = safe_link(a);
        let title = subject_name(a, locale);
        let (place_key, place) = match (a.source, a.resource.region.as_deref()) {
            (SourceKind::Subscriptions, Some(region)) => ("label.region", region),
            _ => ("label.project", project_label(a, locale)),
        };
        Row {
            kind_label: kind_label(a, locale),
            kind_name: kind_name(a, locale),
            severity: a.severity.as_str(),
            severity_word: severity_word(a.severity, locale),
            expiry: expiry_phrase(a, locale),
            summary: message(a, locale),
            account: &a.account,
            place_label: i18n::text(locale, place_key),
            project: place,
            package: a.package.as_deref(),
            package_label: i18n::text(
                locale,
                match a.source {
                    SourceKind::Packages => "label.package",
                    SourceKind::Subscriptions => "label.type",
                },
            ),
            resource: a.resource_id.as_deref(),
            remain_days: a.remain_days,
            remaining: remaining_label(a, locale),
            threshold: a
                .threshold
                .map(|t| {
                    i18n::fill(
                        locale,
                        "label.threshold",
                        &[("threshold", &i18n::days(locale, t.max(0)))],
                    )
                })
                .unwrap_or_default(),
            expired: a.remain_days.is_some_and(|d| d < 0),
            expiry_date: if expiry_is_exact(a) {
                expiry_label(a)
            } else {
                i18n::fill(locale, "label.estimated", &[("date", &expiry_label(a))])
            },
            status: (a.package_status.is_some() || a.package_status_name.is_some())
                .then(|| status_label(a, locale)),
            previous_status: previous_status_label(a, locale)
                .map(|p| i18n::fill(locale, "label.was", &[("status", &p)]))
                .unwrap_or_default(),
            error: poll_error_text(a, locale),
            renew_label: i18n::fill(locale, "label.renew_package", &[("package", &title)]),
            title,
            renew_link,
            insecure_url: match renew_link {
                Some(_) => None,
                None => a.next_action_url.as_deref(),
            },
        }
    }
}

/// Renders built-in template `name` for `digest`.
fn render(name: &str, digest: &Digest) -> Result<String, minijinja::Error> {
    let locale = digest.locale;
    let rows: Vec<Row> = sorted_by_urgency(&digest.alerts)
        .into_iter()
        .map(|a| Row::new(a, locale))
        .collect();
    let context = BodyContext {
        title: subject(digest),
        headline: what_happened(digest),
        summary: summary_line(&digest.alerts, locale),
        receiver_sent: i18n::fill(
            locale,
            "label.receiver_sent",
            &[
                ("receiver", &digest.receiver),
                ("sent_at", &local_time(digest.sent_at, digest.timezone)),
            ],
        ),
        locale: locale.as_str(),
        labels: i18n::labels(locale),
        alerts: &rows,
        silences_heading: silences_heading(locale),
        silences: silence_lines(digest),
        footer: expiry_note(&digest.alerts, locale),
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
