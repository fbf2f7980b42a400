//! Optional user templates (`subject_template`, `text_template`, `html_template`).

use super::bodies;
use crate::model::Alert;
use crate::notify::i18n;
use crate::notify::render::{
    expiry_label, expiry_phrase, kind_name, local_time, message, project_label, remaining_label,
    safe_link, severity_word, single_line, sorted_by_urgency, status_label, truncate,
};
use crate::notify::render::{subject, MAX_SUBJECT_CHARS};
use crate::notify::template::TemplateError;
use crate::notify::{BuildError, Digest};
use serde::Serialize;
use std::collections::BTreeMap;

const SUBJECT_TEMPLATE: &str = "subject.txt";
const TEXT_TEMPLATE: &str = "body.txt";
/// The `.html` name turns on minijinja's HTML auto-escaping for this template.
const HTML_TEMPLATE: &str = "body.html";

/// The receiver's own templates, where configured; the built-in rendering otherwise.
pub struct EmailTemplates {
    env: Option<minijinja::Environment<'static>>,
    subject: bool,
    text: bool,
    html: bool,
}

/// What a template sees: `receiver`, `sent_at` (local time), `timezone`, `locale`, `labels`
/// (the catalogue's words in the locale: `labels.renew`, …), `subject` (the built-in one),
/// `summary` (the counts line), `count` and `alerts` (renewd's JSON fields plus
/// `expiry_date`, `renew_link` — set only for `https://` links —, and in the receiver's
/// locale `status_label`, `remaining`, `project`, `message`, `kind_name`, `severity_word`,
/// `expiry`), `silences` and `silences_heading`. Documented in docs/receivers.md.
#[derive(Serialize)]
struct TemplateContext<'a> {
    receiver: &'a str,
    sent_at: String,
    timezone: &'a str,
    locale: &'static str,
    labels: BTreeMap<&'static str, &'static str>,
    subject: String,
    summary: String,
    count: usize,
    alerts: Vec<TemplateAlert<'a>>,
    /// Silences ending within a day, one worded line each, and their heading.
    silences: Vec<String>,
    silences_heading: &'static str,
}

#[derive(Serialize)]
struct TemplateAlert<'a> {
    #[serde(flatten)]
    alert: &'a Alert,
    /// What the alert is about as people know it (`render::subject_name`).
    name: String,
    expiry_date: String,
    renew_link: Option<&'a str>,
    status_label: String,
    remaining: String,
    project: &'a str,
    /// What the alert says, in the receiver's locale.
    message: String,
    kind_name: String,
    severity_word: &'static str,
    /// e.g. `expires in 11 days (2026-12-07)`.
    expiry: Option<String>,
}

impl std::fmt::Debug for EmailTemplates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailTemplates")
            .field("subject", &self.subject)
            .field("text", &self.text)
            .field("html", &self.html)
            .finish()
    }
}

impl EmailTemplates {
    /// Compiles the configured templates; a syntax error names the config key.
    pub fn new(
        receiver: &str,
        subject: Option<&str>,
        text: Option<&str>,
        html: Option<&str>,
    ) -> Result<EmailTemplates, BuildError> {
        let mut templates = EmailTemplates {
            env: None,
            subject: subject.is_some(),
            text: text.is_some(),
            html: html.is_some(),
        };
        bodies::compile();
        if subject.is_none() && text.is_none() && html.is_none() {
            return Ok(templates);
        }
        let mut env = crate::notify::template::environment();
        for (field, name, source) in [
            ("subject_template", SUBJECT_TEMPLATE, subject),
            ("text_template", TEXT_TEMPLATE, text),
            ("html_template", HTML_TEMPLATE, html),
        ] {
            if let Some(source) = source {
                env.add_template_owned(name, source.to_string())
                    .map_err(|e| BuildError::InvalidTemplate {
                        receiver: receiver.to_string(),
                        field: field.to_string(),
                        reason: e.to_string(),
                    })?;
            }
        }
        templates.env = Some(env);
        Ok(templates)
    }

    /// The built-in rendering only (tests/mail_render.rs renders it in a browser).
    pub fn built_in() -> EmailTemplates {
        bodies::compile();
        EmailTemplates {
            env: None,
            subject: false,
            text: false,
            html: false,
        }
    }

    /// Subject, text part and HTML part of one digest.
    pub fn render(&self, digest: &Digest) -> Result<(String, String, String), TemplateError> {
        let Some(env) = &self.env else {
            return Ok((
                subject(digest),
                built_in_text(digest)?,
                built_in_html(digest)?,
            ));
        };
        let locale = digest.locale;
        let context = TemplateContext {
            receiver: &digest.receiver,
            sent_at: local_time(digest.sent_at, digest.timezone),
            timezone: digest.timezone.name(),
            locale: locale.as_str(),
            labels: i18n::labels(locale),
            subject: subject(digest),
            summary: crate::notify::render::summary_line(&digest.alerts, locale),
            count: digest.alerts.len(),
            alerts: sorted_by_urgency(&digest.alerts)
                .into_iter()
                .map(|alert| TemplateAlert {
                    alert,
                    name: crate::notify::render::subject_name(alert, locale),
                    expiry_date: expiry_label(alert),
                    renew_link: safe_link(alert),
                    status_label: status_label(alert, locale),
                    remaining: remaining_label(alert, locale),
                    project: project_label(alert, locale),
                    message: message(alert, locale),
                    kind_name: kind_name(alert, locale),
                    severity_word: severity_word(alert.severity, locale),
                    expiry: expiry_phrase(alert, locale),
                })
                .collect(),
            silences: crate::notify::render::silence_lines(digest),
            silences_heading: crate::notify::render::silences_heading(locale),
        };
        let run = |name: &str, field: &'static str| -> Result<String, TemplateError> {
            crate::notify::template::render(env, name, &context)
                .map_err(|reason| TemplateError { field, reason })
        };
        let subject_line = if self.subject {
            truncate(
                &single_line(run(SUBJECT_TEMPLATE, "subject_template")?.trim()),
                MAX_SUBJECT_CHARS,
            )
        } else {
            context.subject.clone()
        };
        let text = if self.text {
            run(TEXT_TEMPLATE, "text_template")?
        } else {
            built_in_text(digest)?
        };
        let html = if self.html {
            run(HTML_TEMPLATE, "html_template")?
        } else {
            built_in_html(digest)?
        };
        Ok((subject_line, text, html))
    }
}

/// The built-in text part. It fails only on a mistake in renewd's own template (a name the
/// context does not have), which the tests render every kind of alert through.
fn built_in_text(digest: &Digest) -> Result<String, TemplateError> {
    bodies::render_text(digest).map_err(|e| TemplateError {
        field: "built-in text template",
        reason: e.to_string(),
    })
}

/// The built-in HTML part; see [`built_in_text`].
fn built_in_html(digest: &Digest) -> Result<String, TemplateError> {
    bodies::render_html(digest).map_err(|e| TemplateError {
        field: "built-in HTML template",
        reason: e.to_string(),
    })
}
