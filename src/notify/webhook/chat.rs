//! Chat text shared by the chat formats (Slack, Teams, DingTalk, Feishu, WeCom): the built-in
//! minijinja template (or the receiver's own `text_template`), escaping for each platform's
//! markup, safe links, shortening a digest to fit a platform's size limit, and reading the
//! error code that DingTalk, Feishu and WeCom put inside an HTTP 200 answer.
//!
//! Every `{{ value }}` is escaped for the platform's markup (like HTML auto-escaping), so a
//! package key or an account name can never add a link or markup. Markup comes only from the
//! template's own text and the `bold()` and `link()` functions.

use super::format::Rejection;
use super::WebhookFormat;
use crate::model::Alert;
use crate::notify::template::{self, TemplateError};
use crate::notify::{i18n, render, BuildError, Digest};
use minijinja::value::Value;
use minijinja::Environment;
use serde::Serialize;
use std::time::Duration;

/// The template every chat format uses unless the receiver configures `text_template`: the
/// digest's summary line, then one line per alert — severity in words, kind, the package and
/// when it expires (or what a poll alert says), status, account/project (a subscription's name
/// already says its region) and the Renew link.
/// "renewd" starts the text so a robot secured with the keyword "renewd" accepts it.
pub(crate) const BUILT_IN_TEMPLATE: &str = r#"{{ bold("renewd: " ~ summary) }}
{% for a in alerts %}
- {{ bold(a.severity_word) }} {{ a.kind_name }}{{ labels.colon }}{% if a.package %}{{ bold(a.name) }}{% if a.expiry %} {{ a.expiry }}{% endif %} · {{ a.status_label }}{% else %}{{ a.message }}{% endif %} · {{ a.account }}{% if a.source is not defined or a.source != "subscriptions" %}/{{ a.project }}{% endif %}{% if a.next_action_url %} · {% endif %}{{ link(a.next_action_url, labels.renew) }}
{% endfor %}
{% if omitted %}
{{ more }}
{% endif %}
{% if silences %}
{{ bold(silences_heading) }}
{% for s in silences %}
- {{ s }}
{% endfor %}
{% endif %}
"#;

/// Buttons per message: one per listed package up to this many; beyond it, one for the most
/// urgent package (a wall of buttons is no longer a glance, and Teams shows at most six
/// actions on a card). Every package keeps its inline link in the text either way.
pub const MAX_BUTTONS: usize = 6;
/// Characters of a button's title.
const MAX_BUTTON_TITLE_CHARS: usize = 40;

/// The Renew buttons of a message that lists the `shown` most urgent alerts of `digest`, as
/// `(title, url)`: one per listed package with an `https://` link, titled `Renew <package>`,
/// when there are at most [`MAX_BUTTONS`]; else a single `Renew <package> (most urgent)`.
/// Alerts without a package (poll alerts) get none, and no other link ever becomes a button.
pub fn renew_buttons(digest: &Digest, shown: usize) -> Vec<(String, &str)> {
    let locale = digest.locale;
    let mut listed: Vec<(String, &str)> = render::sorted_by_urgency(&digest.alerts)
        .into_iter()
        .take(shown)
        .filter(|a| a.package.is_some())
        .filter_map(|a| Some((render::package_name(a, locale), render::safe_link(a)?)))
        .collect();
    let title =
        |text: String| render::truncate(&render::single_line(&text), MAX_BUTTON_TITLE_CHARS);
    if listed.len() > MAX_BUTTONS {
        let (package, url) = listed.swap_remove(0);
        let text = i18n::fill(locale, "label.renew_most_urgent", &[("package", &package)]);
        return vec![(title(text), url)];
    }
    listed
        .into_iter()
        .map(|(package, url)| {
            let text = i18n::fill(locale, "label.renew_package", &[("package", &package)]);
            (title(text), url)
        })
        .collect()
}

const TEMPLATE_NAME: &str = "chat_text";

/// The markup a platform reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Slack's `mrkdwn`: `*bold*`, `<url|text>`, `&`, `<`, `>` escaped as entities.
    SlackMrkdwn,
    /// The Markdown of DingTalk, Feishu (`lark_md`), WeCom and Teams TextBlocks:
    /// `**bold**`, `[text](url)`, backslash escapes.
    Markdown,
}

impl Dialect {
    /// Escapes text from the data (package keys, names, messages) for this markup. Control
    /// characters become spaces, so a value cannot start a new line or list item.
    pub(crate) fn escape(self, text: &str) -> String {
        let text = render::single_line(text);
        let mut out = String::with_capacity(text.len() + 8);
        for c in text.chars() {
            match (self, c) {
                (Dialect::SlackMrkdwn, '&') => out.push_str("&amp;"),
                (Dialect::SlackMrkdwn, '<') => out.push_str("&lt;"),
                (Dialect::SlackMrkdwn, '>') => out.push_str("&gt;"),
                // Enough to stop links, tags and code spans; `*`/`_` could only change emphasis.
                (Dialect::Markdown, '\\' | '[' | ']' | '<' | '>' | '`') => {
                    out.push('\\');
                    out.push(c);
                }
                _ => out.push(c),
            }
        }
        out
    }

    pub(crate) fn bold(self, text: &str) -> String {
        match self {
            Dialect::SlackMrkdwn => format!("*{}*", self.escape(text)),
            Dialect::Markdown => format!("**{}**", self.escape(text)),
        }
    }

    /// A clickable link for an `https://` URL; anything else is shown as code, never as a link
    /// (a code span is not auto-linked).
    pub(crate) fn link(self, url: &str, text: &str) -> String {
        if !crate::model::is_safe_link(url) {
            let shown = render::single_line(url).replace('`', "'");
            return format!("{} (not https, not linked): `{shown}`", self.escape(text));
        }
        match self {
            Dialect::SlackMrkdwn => {
                let url = url
                    .replace('&', "&amp;")
                    .replace('<', "%3C")
                    .replace('>', "%3E")
                    .replace('|', "%7C");
                let text = self.escape(text).replace('|', "/");
                format!("<{url}|{text}>")
            }
            Dialect::Markdown => {
                let url = url
                    .replace(' ', "%20")
                    .replace('(', "%28")
                    .replace(')', "%29");
                format!("[{}]({url})", self.escape(text))
            }
        }
    }
}

/// What a chat template sees. Documented in docs/receivers.md ("Chat templates").
#[derive(Serialize)]
struct ChatContext<'a> {
    receiver: &'a str,
    sent_at: String,
    timezone: &'a str,
    /// `en` or `zh-CN`.
    locale: &'static str,
    /// The catalogue's words in the locale (`labels.renew`, …).
    labels: std::collections::BTreeMap<&'static str, &'static str>,
    /// One line saying what happened, e.g. `renewd: 2 CodeArts packages expire within 14 days (prod)`.
    headline: String,
    /// The digest's alerts counted by kind, e.g. `1 expired, 2 expire within 7 days`.
    summary: String,
    /// Alerts in the digest.
    count: usize,
    /// Alerts listed in `alerts` (the most urgent ones when the digest was shortened).
    shown: usize,
    /// Alerts left out to fit the platform's size limit.
    omitted: usize,
    /// `… and N more (less urgent)` when alerts were left out, else empty.
    more: String,
    /// The heading of `silences`.
    silences_heading: &'static str,
    /// Silences that end within a day of the digest, one line each.
    silences: Vec<String>,
    alerts: Vec<ChatAlert<'a>>,
}

#[derive(Serialize)]
struct ChatAlert<'a> {
    #[serde(flatten)]
    alert: &'a Alert,
    /// What the alert is about as people know it (`render::subject_name`): a package's key,
    /// a billing resource's service, name, spec and region.
    name: String,
    expiry_date: String,
    /// Set only for `https://` links.
    renew_link: Option<&'a str>,
    status_label: String,
    remaining: String,
    project: &'a str,
    kind_label: String,
    /// e.g. `expiring`, `status changed`.
    kind_name: String,
    /// `Critical`, `Warning` or `Info`.
    severity_word: &'static str,
    /// e.g. `expires in 11 days (2026-12-07)`; none without remaining days.
    expiry: Option<String>,
    /// What the alert says, in the receiver's locale (the rules' `summary` in English).
    message: String,
}

/// The chat text of one receiver: the built-in template or its own `text_template`.
pub struct ChatTemplate {
    env: Environment<'static>,
    dialect: Dialect,
    custom: bool,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("dialect", &self.dialect)
            .field("custom", &self.custom)
            .finish()
    }
}

impl ChatTemplate {
    /// Compiles the receiver's template (or the built-in one); a syntax error names the key.
    pub fn new(
        receiver: &str,
        dialect: Dialect,
        custom: Option<&str>,
    ) -> Result<ChatTemplate, BuildError> {
        let mut env = template::environment();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_formatter(move |out, _state, value| {
            if value.is_safe() {
                write!(out, "{value}")?;
            } else if !value.is_none() && !value.is_undefined() {
                let text = value.to_string();
                template::check_len(text.len())?;
                out.write_str(&dialect.escape(&text))?;
            }
            Ok(())
        });
        env.add_function("bold", move |text: String| {
            template::check_len(text.len())?;
            Ok(Value::from_safe_string(dialect.bold(&text)))
        });
        env.add_function(
            "link",
            move |state: &minijinja::State, url: Option<String>, text: Option<String>| {
                // The default text is the receiver's word for "Renew".
                let text = text.unwrap_or_else(|| {
                    state
                        .lookup("labels")
                        .and_then(|l| l.get_attr("renew").ok())
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_else(|| "Renew".into())
                });
                let url = url.unwrap_or_default();
                template::check_len(url.len() + text.len())?;
                Ok(Value::from_safe_string(if url.is_empty() {
                    String::new()
                } else {
                    dialect.link(&url, &text)
                }))
            },
        );
        let source = custom.unwrap_or(BUILT_IN_TEMPLATE);
        env.add_template_owned(TEMPLATE_NAME, source.to_string())
            .map_err(|e| BuildError::InvalidTemplate {
                receiver: receiver.to_string(),
                field: "text_template".into(),
                reason: e.to_string(),
            })?;
        Ok(ChatTemplate {
            env,
            dialect,
            custom: custom.is_some(),
        })
    }

    pub(crate) fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The text listing the `shown` most urgent alerts of the digest (and how many were left out).
    pub fn render(&self, digest: &Digest, shown: usize) -> Result<String, TemplateError> {
        let sorted = render::sorted_by_urgency(&digest.alerts);
        let shown = shown.min(sorted.len());
        let locale = digest.locale;
        let omitted = sorted.len() - shown;
        let context = ChatContext {
            receiver: &digest.receiver,
            sent_at: render::local_time(digest.sent_at, digest.timezone),
            timezone: digest.timezone.name(),
            locale: locale.as_str(),
            labels: i18n::labels(locale),
            headline: render::headline(digest),
            summary: render::summary_line(&digest.alerts, locale),
            count: sorted.len(),
            shown,
            omitted,
            more: if omitted > 0 {
                i18n::fill(locale, "label.and_more", &[("n", &omitted)])
            } else {
                String::new()
            },
            silences_heading: render::silences_heading(locale),
            silences: render::silence_lines(digest),
            alerts: sorted
                .into_iter()
                .take(shown)
                .map(|alert| ChatAlert {
                    alert,
                    name: render::subject_name(alert, locale),
                    expiry_date: render::expiry_label(alert),
                    renew_link: render::safe_link(alert),
                    status_label: render::status_label(alert, locale),
                    remaining: render::remaining_label(alert, locale),
                    project: render::project_label(alert, locale),
                    kind_label: render::kind_label(alert, locale),
                    kind_name: render::kind_name(alert, locale),
                    severity_word: render::severity_word(alert.severity, locale),
                    expiry: render::expiry_phrase(alert, locale),
                    message: render::message(alert, locale),
                })
                .collect(),
        };
        let text = template::render(&self.env, TEMPLATE_NAME, &context).map_err(|reason| {
            TemplateError {
                field: "text_template",
                reason,
            }
        })?;
        Ok(text.trim().to_string())
    }
}

impl ChatTemplate {
    /// [`fit`] for this template's text of `digest`: the most urgent alerts that fit.
    pub(crate) fn fit<T>(
        &self,
        digest: &Digest,
        build: impl Fn(usize, &str) -> Result<T, String>,
        fits: impl Fn(&T) -> bool,
    ) -> Result<T, String> {
        fit(
            digest.alerts.len(),
            |shown| self.render(digest, shown).map_err(|e| e.to_string()),
            build,
            fits,
        )
    }
}

/// Compiles `source` for `format` and renders it against the example package, as `check` and
/// config validation do. The error is the reason only (the caller names the key).
pub(crate) fn validate_text_template(
    format: &dyn WebhookFormat,
    source: &str,
) -> Result<(), String> {
    let Some(dialect) = format.dialect() else {
        return Err(format!(
            "the {} format has no chat text; text_template is for {}",
            format.name(),
            super::names_where(|f| f.dialect().is_some())
        ));
    };
    let template = ChatTemplate::new("check", dialect, Some(source)).map_err(|e| match e {
        BuildError::InvalidTemplate { reason, .. } => reason,
        other => other.to_string(),
    })?;
    let digest = crate::notify::test_digest("check", chrono::Utc::now(), chrono_tz::UTC);
    template
        .render(&digest, digest.alerts.len())
        .map(|_| ())
        .map_err(|e| e.reason)
}

/// Shortens a digest until its request fits: first by listing fewer alerts (the most urgent
/// ones stay, the rest become "and N more"), and only if even the bare text does not fit, by
/// cutting the text. `render_text(shown)` renders the text; `build(shown, text)` the request;
/// `fits` says whether a request is within the platform's limits.
pub(crate) fn fit<T>(
    total: usize,
    render_text: impl Fn(usize) -> Result<String, String>,
    build: impl Fn(usize, &str) -> Result<T, String>,
    fits: impl Fn(&T) -> bool,
) -> Result<T, String> {
    let full = build(total, &render_text(total)?)?;
    if fits(&full) {
        return Ok(full);
    }
    // The largest count of listed alerts that fits (fewer alerts, smaller message).
    let (mut lo, mut hi) = (0usize, total);
    let mut best: Option<T> = None;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let candidate = build(mid, &render_text(mid)?)?;
        if fits(&candidate) {
            best = Some(candidate);
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if let Some(best) = best {
        return Ok(best);
    }
    // Even the headline alone is too long (a custom template): cut the text itself.
    let bare = render_text(0)?;
    let chars = bare.chars().count();
    let (mut lo, mut hi) = (0usize, chars);
    let mut best = None;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let candidate = build(0, &render::truncate(&bare, mid))?;
        if fits(&candidate) {
            best = Some(candidate);
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    best.ok_or_else(|| "the message cannot be made small enough for this platform".to_string())
}

/// The answer of a platform that reports errors inside an HTTP 200 body, e.g. DingTalk's
/// `{"errcode":310000,"errmsg":"sign not match"}`. `code_keys` are tried in order.
pub(crate) fn read_answer(body: &[u8], code_keys: &[&str], message_keys: &[&str]) -> Answer {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Answer::Unreadable;
    };
    let Some(code) = code_keys
        .iter()
        .find_map(|k| value.get(*k).and_then(serde_json::Value::as_i64))
    else {
        return Answer::Unreadable;
    };
    let message = message_keys
        .iter()
        .find_map(|k| value.get(*k).and_then(serde_json::Value::as_str))
        .unwrap_or("")
        .to_string();
    if code == 0 {
        Answer::Ok
    } else {
        Answer::Error { code, message }
    }
}

/// What a 200 answer said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    Ok,
    Error {
        code: i64,
        message: String,
    },
    /// Not the platform's JSON at all (a proxy page, the wrong URL).
    Unreadable,
}

impl Answer {
    /// Turns the answer into the notifier's verdict: `retryable` lists the codes worth
    /// retrying (rate limits, "system busy"), with the wait the platform asks for, if any.
    pub(crate) fn verdict(
        self,
        platform: &str,
        body: &[u8],
        retryable: &[(i64, Option<Duration>)],
    ) -> Result<(), Rejection> {
        match self {
            Answer::Ok => Ok(()),
            Answer::Error { code, message } => {
                let retry = retryable.iter().find(|(c, _)| *c == code);
                Err(Rejection {
                    code: code.to_string(),
                    message: render::truncate(&render::single_line(&message), 200),
                    retryable: retry.is_some(),
                    retry_after: retry.and_then(|(_, after)| *after),
                })
            }
            Answer::Unreadable => Err(Rejection {
                code: String::new(),
                message: format!(
                    "not a {platform} answer: {}",
                    render::truncate(&render::single_line(&String::from_utf8_lossy(body)), 200)
                ),
                retryable: false,
                retry_after: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;
    use crate::notify::render::tests::{alert, digest};

    fn format(name: &str) -> &'static dyn WebhookFormat {
        super::super::find(name).unwrap()
    }

    #[test]
    fn built_in_text_lists_alerts_most_urgent_first_with_links() {
        let t = ChatTemplate::new("ops", Dialect::Markdown, None).unwrap();
        let d = digest(vec![
            alert("later", Some(20), Severity::Info),
            alert("soon", Some(2), Severity::Warning),
        ]);
        let text = t.render(&d, 2).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("**renewd: "), "{text}");
        assert!(lines[1].contains("soon"), "{text}");
        assert!(lines[2].contains("later"), "{text}");
        assert!(
            lines[1].contains("[Renew](https://example.com/renew)"),
            "{text}"
        );
        // The summary line first; severity in words and when each package expires.
        assert_eq!(lines[0], "**renewd: 2 expire within 20 days**", "{text}");
        assert!(
            lines[1].starts_with(
                "- **Warning** expiring: **soon** expires in 2 days (2026-11-28) · active (2) · prod/(account) · "
            ),
            "{text}"
        );
        assert!(!text.contains("more"), "{text}");
        let short = t.render(&d, 1).unwrap();
        assert!(
            short.contains("soon") && !short.contains("later"),
            "{short}"
        );
        assert!(short.ends_with("… and 1 more (less urgent)"), "{short}");
    }

    #[test]
    fn values_cannot_inject_markup_or_links() {
        let mut a = alert("x](https://evil.example)[", Some(2), Severity::Warning);
        a.account = "<@channel>\n- fake item".into();
        for dialect in [Dialect::Markdown, Dialect::SlackMrkdwn] {
            let t = ChatTemplate::new("ops", dialect, None).unwrap();
            let text = t.render(&digest(vec![a.clone()]), 1).unwrap();
            // Markdown link syntax is escaped (below); Slack has none, and its `<…>` is escaped.
            assert!(!text.contains("<@channel>"), "{dialect:?}: {text}");
            assert!(!text.contains("<https://evil"), "{dialect:?}: {text}");
            assert!(!text.contains("\n- fake"), "{dialect:?}: {text}");
            assert_eq!(text.lines().count(), 2, "{dialect:?}: {text}");
        }
        let md = ChatTemplate::new("ops", Dialect::Markdown, None).unwrap();
        let text = md.render(&digest(vec![a]), 1).unwrap();
        assert!(text.contains("x\\](https://evil.example)\\["), "{text}");
    }

    #[test]
    fn only_https_becomes_a_link() {
        for dialect in [Dialect::Markdown, Dialect::SlackMrkdwn] {
            let plain = dialect.link("http://example.com/renew", "Renew");
            assert!(plain.contains("`http://example.com/renew`"), "{plain}");
            assert!(!plain.contains("](") && !plain.contains('|'), "{plain}");
        }
        assert_eq!(
            Dialect::SlackMrkdwn.link("https://e.com/?a=1&b=<2>", "Renew"),
            "<https://e.com/?a=1&amp;b=%3C2%3E|Renew>"
        );
        assert_eq!(
            Dialect::Markdown.link("https://e.com/a(b)", "Renew"),
            "[Renew](https://e.com/a%28b%29)"
        );
    }

    #[test]
    fn custom_templates_see_the_documented_variables() {
        let source = "{{ receiver }} {{ count }} {{ shown }} {{ omitted }} {{ timezone }}\
            {% for a in alerts %} {{ a.package }} {{ a.remain_days }} {{ a.expiry_date }} \
            {{ a.status_label }} {{ a.remaining }} {{ a.project }} {{ a.kind_label }} \
            {{ a.renew_link }} {{ link(a.next_action_url) }}{% endfor %}";
        let t = ChatTemplate::new("ops", Dialect::Markdown, Some(source)).unwrap();
        let text = t
            .render(&digest(vec![alert("p", Some(11), Severity::Info)]), 1)
            .unwrap();
        assert_eq!(
            text,
            "ops 1 1 0 Asia/Shanghai p 11 2026-12-07 active (2) 11 days (account) \
             INFO expiring https://example.com/renew [Renew](https://example.com/renew)"
        );
    }

    #[test]
    fn template_errors_name_the_key() {
        let e = ChatTemplate::new("ops", Dialect::Markdown, Some("{% for %}")).unwrap_err();
        assert!(
            e.to_string().starts_with("receivers.ops.text_template:"),
            "{e}"
        );
        let e = validate_text_template(format("slack"), "{{ nope.field }}").unwrap_err();
        assert!(e.contains("undefined"), "{e}");
        assert!(validate_text_template(format("json"), "x").is_err());
        assert!(validate_text_template(format("wecom"), BUILT_IN_TEMPLATE).is_ok());
    }

    #[test]
    fn buttons_one_per_listed_https_package_or_one_for_the_most_urgent() {
        let mut plain = alert("plain", Some(3), Severity::Warning);
        plain.next_action_url = Some("http://example.com/renew".into());
        let mut poll = alert("poll", Some(1), Severity::Critical);
        poll.package = None;
        let d = digest(vec![
            alert("later", Some(20), Severity::Info),
            plain,
            poll,
            alert("soon", Some(2), Severity::Warning),
        ]);
        let titles = |shown| -> Vec<String> {
            renew_buttons(&d, shown)
                .into_iter()
                .map(|(t, _)| t)
                .collect()
        };
        assert_eq!(titles(4), ["Renew soon", "Renew later"]);
        assert_eq!(titles(2), ["Renew soon"], "only listed alerts");
        assert!(renew_buttons(&d, 4)
            .iter()
            .all(|(_, url)| *url == "https://example.com/renew"));
        let many = digest(
            (0..=MAX_BUTTONS as i64)
                .map(|i| alert(&format!("p{i}"), Some(i + 1), Severity::Warning))
                .collect(),
        );
        assert_eq!(
            renew_buttons(&many, MAX_BUTTONS + 1),
            [(
                "Renew p0 (most urgent)".to_string(),
                "https://example.com/renew"
            )]
        );
        assert_eq!(renew_buttons(&many, MAX_BUTTONS).len(), MAX_BUTTONS);
    }

    #[test]
    fn fit_keeps_the_most_alerts_that_fit_then_cuts_text() {
        let render_text = |n: usize| Ok("x".repeat(10 + n * 5));
        let build = |_: usize, t: &str| Ok(t.to_string());
        let fitted = fit(100, render_text, build, |t: &String| t.len() <= 60).unwrap();
        assert_eq!(fitted.len(), 60);
        let cut = fit(
            3,
            |_| Ok("y".repeat(100)),
            build,
            |t: &String| t.chars().count() <= 41,
        )
        .unwrap();
        assert_eq!(cut.chars().count(), 41);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn answers_with_codes() {
        assert_eq!(
            read_answer(br#"{"errcode":0,"errmsg":"ok"}"#, &["errcode"], &["errmsg"]),
            Answer::Ok
        );
        let e = read_answer(
            br#"{"errcode":130101,"errmsg":"send too fast"}"#,
            &["errcode"],
            &["errmsg"],
        );
        let r = e
            .verdict("DingTalk", b"", &[(130101, Some(Duration::from_secs(600)))])
            .unwrap_err();
        assert_eq!(r.code, "130101");
        assert!(r.retryable);
        assert_eq!(r.retry_after, Some(Duration::from_secs(600)));
        assert_eq!(
            read_answer(b"<html>", &["errcode"], &["errmsg"]),
            Answer::Unreadable
        );
    }
}
