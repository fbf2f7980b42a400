use super::*;
use crate::config::{SmtpConfig, SmtpSecurity};
use crate::model::{Alert, AlertKind, PollErrorInfo, Severity};
use crate::notify::render::tests::{alert, digest, sent_at};
use std::time::Duration;

fn of_kind(package: &str, kind: AlertKind, days: i64) -> Alert {
    let mut a = alert(package, Some(days), Severity::for_remain_days(days));
    a.kind = kind;
    a
}

#[test]
fn subjects_say_what_happened() {
    let d = digest(vec![
        of_kind("a", AlertKind::Expiring, 11),
        of_kind("b", AlertKind::Expiring, 9),
    ]);
    assert_eq!(
        subject(&d),
        "[renewd] 2 CodeArts packages expire within 14 days (prod)"
    );
    let d = digest(vec![
        of_kind("a", AlertKind::Expiring, 11),
        of_kind("b", AlertKind::Expiring, 9),
        of_kind("c", AlertKind::Expired, 0),
    ]);
    assert_eq!(
        subject(&d),
        "[renewd] 1 expired, 2 expiring CodeArts packages (prod)"
    );
    let d = digest(vec![of_kind("a", AlertKind::Expiring, 11)]);
    assert_eq!(
        subject(&d),
        "[renewd] CodeArts package a expires in 11 days (prod)"
    );
    let d = digest(vec![
        of_kind("a", AlertKind::Expired, 0),
        of_kind("b", AlertKind::Expired, -2),
    ]);
    assert_eq!(subject(&d), "[renewd] 2 CodeArts packages expired (prod)");
    let mut failed = of_kind("x", AlertKind::PollFailed, 0);
    failed.package = None;
    failed.project_id = Some("p1".into());
    assert_eq!(
        subject(&digest(vec![failed.clone()])),
        "[renewd] cannot check the CodeArts packages of prod/p1 (prod)"
    );
    let d = digest(vec![failed, of_kind("c", AlertKind::Expired, 0)]);
    assert_eq!(
        subject(&d),
        "[renewd] 1 CodeArts package expired; cannot check 1 account/project (prod)"
    );
    let test = crate::notify::test_digest("ops", sent_at(), chrono_tz::UTC);
    assert_eq!(subject(&test), "[renewd] test message");
}

#[test]
fn subject_is_one_line_even_with_hostile_keys() {
    let d = digest(vec![of_kind(
        "evil\r\nBcc: x@example.com",
        AlertKind::Expiring,
        3,
    )]);
    let s = subject(&d);
    assert!(!s.contains('\n') && !s.contains('\r'), "{s:?}");
}

#[test]
fn html_escapes_values_and_links_only_https() {
    let mut evil = of_kind("<script>alert(1)</script>", AlertKind::Expiring, 3);
    evil.next_action_url = Some("javascript:alert(1)".into());
    evil.account = "a&b\"c".into();
    let good = of_kind("good", AlertKind::Expiring, 5);
    let html = html_body(&digest(vec![evil, good]));
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("a&amp;b&quot;c"));
    assert!(!html.contains("href=\"javascript:"), "{html}");
    assert!(html.contains("<code>javascript:alert(1)</code>"));
    assert_eq!(html.matches(">Renew</a>").count(), 1);
    assert_eq!(html.matches("<a ").count(), 1, "{html}");
    assert!(
        html.contains("<a href=\"https://example.com/renew\" "),
        "{html}"
    );
}

#[test]
fn html_cards_lead_with_the_summary_and_show_severity_in_words() {
    let mut failed = of_kind("x", AlertKind::PollFailed, 0);
    failed.package = None;
    failed.remain_days = None;
    failed.project_id = Some("p1".into());
    failed.error = Some(PollErrorInfo {
        http_status: Some(401),
        error_code: Some("APIG.0301".into()),
        error_msg: "token expired".into(),
        request_id: None,
        consecutive_failures: 3,
    });
    let html = html_body(&digest(vec![
        of_kind("later", AlertKind::Expiring, 20),
        of_kind("gone", AlertKind::Expired, -1),
        of_kind("soon", AlertKind::Expiring, 5),
        failed,
    ]));
    // The summary line is the first text of the body.
    let body = &html[html.find("<body").unwrap()..];
    let summary = body
        .find("1 expired, 2 expire within 20 days")
        .expect(&html);
    assert!(summary < body.find("Receiver ops").unwrap(), "{html}");
    // One card per alert, most urgent first; severity in words (with its colour) and when.
    assert_eq!(html.matches("role=\"article\"").count(), 4, "{html}");
    let gone = html
        .find("aria-label=\"Critical: expired, gone\"")
        .expect(&html);
    let soon = html
        .find("aria-label=\"Warning: expiring, soon\"")
        .expect(&html);
    let later = html
        .find("aria-label=\"Info: expiring, later\"")
        .expect(&html);
    assert!(gone < soon && soon < later, "{html}");
    assert!(html.contains(">Critical</span>") && html.contains(">Warning</span>"));
    assert!(html.contains(">Info</span>"), "{html}");
    assert!(html.contains("expired 1 day ago (2026-11-25)"), "{html}");
    assert!(html.contains("expires in 5 days (2026-12-01)"), "{html}");
    // The failed poll: a card about the project, with the error and no Renew button.
    let card = html.find("poll failed, prod/p1\"").expect(&html);
    let next = html[card..]
        .find("role=\"article\"")
        .map_or(html.len(), |i| card + i);
    let failed_card = &html[card..next];
    assert!(
        failed_card.contains("HTTP 401 APIG.0301 token expired; 3 failed polls in a row"),
        "{failed_card}"
    );
    assert!(!failed_card.contains("Renew"), "{failed_card}");
    assert_eq!(html.matches(">Renew</a>").count(), 3, "{html}");
    // For mail clients: no <style>, no images, a colour scheme for dark mode.
    assert!(!html.contains("<style") && !html.contains("<img"), "{html}");
    assert!(html.contains("<meta name=\"color-scheme\" content=\"light dark\">"));
    assert!(html.contains("<meta name=\"supported-color-schemes\" content=\"light dark\">"));
}

#[test]
fn html_cards_are_sorted_and_show_status_and_expiry() {
    let html = html_body(&digest(vec![
        of_kind("later", AlertKind::Expiring, 20),
        of_kind("sooner", AlertKind::Expiring, 2),
    ]));
    let sooner = html.find("sooner").unwrap();
    let later = html.find("later").unwrap();
    assert!(sooner < later);
    assert!(html.contains("active (2)"));
    // 2026-11-26 in Shanghai + 2 days.
    assert!(html.contains("2026-11-28"), "{html}");
}

#[test]
fn text_part_has_one_block_per_alert_with_the_url_on_its_own_line() {
    let mut insecure = of_kind("plain", AlertKind::Expiring, 4);
    insecure.next_action_url = Some("http://example.com/x".into());
    let mut failed = of_kind("x", AlertKind::PollFailed, 0);
    failed.package = None;
    failed.remain_days = None;
    failed.package_status = None;
    failed.package_status_name = None;
    failed.next_action_url = None;
    failed.error = Some(PollErrorInfo {
        http_status: Some(401),
        error_code: Some("APIG.0301".into()),
        error_msg: "token expired".into(),
        request_id: Some("req-1".into()),
        consecutive_failures: 3,
    });
    let text = text_body(&digest(vec![
        of_kind("a", AlertKind::Expiring, 11),
        insecure,
        failed,
    ]));
    assert!(
        text.lines()
            .any(|l| l.trim() == "https://example.com/renew"),
        "{text}"
    );
    assert!(text.contains("Renewal address (not https"), "{text}");
    assert!(text
        .contains("HTTP 401 APIG.0301 token expired (request id req-1); 3 failed polls in a row"));
    assert!(
        text.contains("Expires:     2026-12-07 (estimated)"),
        "{text}"
    );
    assert_eq!(text.matches("\n1. ").count(), 1);
    assert_eq!(text.matches("\n3. ").count(), 1);
}

#[test]
fn message_id_is_stable_for_the_same_alerts() {
    let a = digest(vec![
        of_kind("a", AlertKind::Expiring, 11),
        of_kind("b", AlertKind::Expiring, 3),
    ]);
    let mut b = a.clone();
    b.alerts.reverse();
    b.sent_at = sent_at() + chrono::TimeDelta::hours(5);
    assert_eq!(message_id(&a, "example.com"), message_id(&b, "example.com"));
    assert!(message_id(&a, "example.com").ends_with(".renewd@example.com>"));
    let c = digest(vec![of_kind("a", AlertKind::Expiring, 11)]);
    assert_ne!(message_id(&a, "example.com"), message_id(&c, "example.com"));
}

#[test]
fn templates_render_with_html_escaping() {
    let t = EmailTemplates::new(
        "ops",
        Some("{{ count }} alerts for {{ receiver }}"),
        None,
        Some("{% for a in alerts %}<b>{{ a.package }}</b>{{ a.renew_link }}{% endfor %}"),
    )
    .unwrap();
    let (s, text, html) = t
        .render(&digest(vec![of_kind("<i>x</i>", AlertKind::Expiring, 3)]))
        .unwrap();
    assert_eq!(s, "1 alerts for ops");
    assert!(text.contains("renewd:"));
    assert!(html.contains("<b>&lt;i&gt;x&lt;&#x2f;i&gt;</b>"), "{html}");
    let err = EmailTemplates::new("ops", Some("{% if %}"), None, None).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("receivers.ops.subject_template:"),
        "{err}"
    );
}

fn smtp_config(ca_file: Option<std::path::PathBuf>) -> SmtpConfig {
    SmtpConfig {
        host: "smtp.example.com".into(),
        port: None,
        security: SmtpSecurity::Starttls,
        username: Some("renewd".into()),
        password: Some(crate::config::Secret::new("pw-secret-1")),
        password_file: None,
        from: "renewd <renewd@example.com>".into(),
        timeout: Duration::from_secs(30),
        ca_file,
    }
}

#[test]
fn a_ca_file_without_a_certificate_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, "not a certificate").unwrap();
    let err = SmtpSettings::from_config(&smtp_config(Some(path.clone()))).unwrap_err();
    assert!(matches!(err, BuildError::CaFile { .. }), "{err:?}");
    assert!(err.to_string().starts_with("smtp.ca_file:"), "{err}");
    let missing = dir.path().join("missing.pem");
    let err = SmtpSettings::from_config(&smtp_config(Some(missing))).unwrap_err();
    assert!(matches!(err, BuildError::CaFile { .. }), "{err:?}");
}

#[test]
fn settings_pick_the_port_and_never_show_the_password() {
    let settings = SmtpSettings::from_config(&smtp_config(None)).unwrap();
    assert_eq!(settings.server, "smtp.example.com:587");
    let n = EmailNotifier::new(
        "ops",
        &settings,
        &["ops@example.com".into()],
        &[],
        EmailTemplates::built_in(),
    )
    .unwrap();
    assert!(!format!("{n:?}").contains("pw-secret-1"));
    assert_eq!(settings.scrub("echo pw-secret-1".into()), "echo <redacted>");
    let err = EmailNotifier::new(
        "ops",
        &settings,
        &["not an address".into()],
        &[],
        EmailTemplates::built_in(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "receivers.ops.to[0]: \"not an address\" is not an email address"
    );
}

/// A digest whose every value is hostile: markup, quotes, line breaks, and renewal addresses
/// that must not become links (`javascript:`, `data:`, plain http, an https one trying to
/// break out of its attribute).
fn hostile_digest() -> Digest {
    let mut script = of_kind("<script>alert(1)</script>", AlertKind::Expiring, 3);
    script.account = "a\"b'c<d>&e".into();
    script.project_id = Some("\"><img src=x onerror=alert(1)>".into());
    script.summary = "it's <b>bold</b> & \"quoted\"".into();
    script.resource_id = Some("r\n4. [CRITICAL fake] line".into());
    script.package_status_name = Some("<i>active</i>".into());
    script.next_action_url = Some("javascript:alert(document.cookie)".into());
    let mut data = of_kind("data", AlertKind::Expired, -1);
    data.next_action_url = Some("data:text/html,<script>alert(1)</script>".into());
    let mut plain = of_kind("plain", AlertKind::Expiring, 5);
    plain.next_action_url = Some("http://example.com/\"onmouseover=\"alert(1)".into());
    let mut breakout = of_kind("breakout", AlertKind::Expiring, 6);
    breakout.next_action_url = Some("https://example.com/\"><script>alert(1)</script>".into());
    let mut failed = of_kind("x", AlertKind::PollFailed, 0);
    failed.package = None;
    failed.remain_days = None;
    failed.error = Some(PollErrorInfo {
        http_status: Some(500),
        error_code: Some("<code>".into()),
        error_msg: "</span><script>alert(1)</script>\r\nsecond line".into(),
        request_id: Some("\"req\"".into()),
        consecutive_failures: 2,
    });
    let mut d = digest(vec![script, data, plain, breakout, failed]);
    d.receiver = "ops<script>\"'".into();
    d
}

#[test]
fn built_in_bodies_escape_hostile_values_and_link_only_https() {
    let (_, text, html) = EmailTemplates::built_in()
        .render(&hostile_digest())
        .unwrap();

    // Nothing from the data is markup: no tag, no attribute, no quote closing one.
    assert!(!html.to_lowercase().contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("<i>") && !html.contains("<b>"), "{html}");
    assert!(html.contains("a&quot;b&#39;c&lt;d&gt;&amp;e"), "{html}");
    assert!(
        html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    assert!(html.contains("it&#39;s &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;"));
    assert!(html.contains("&lt;i&gt;active&lt;/i&gt;"), "{html}");
    assert!(
        html.contains("&lt;/span&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("Receiver ops&lt;script&gt;&quot;&#39;,"),
        "{html}"
    );

    // One link, to the https address, its quote escaped inside the attribute; every other
    // address is shown as text.
    assert_eq!(html.matches("<a ").count(), 1, "{html}");
    assert_eq!(html.matches("href=").count(), 1, "{html}");
    assert!(
        html.contains(
            "<a href=\"https://example.com/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\" "
        ),
        "{html}"
    );
    assert_eq!(html.matches(">Renew</a>").count(), 1, "{html}");
    assert!(html.contains("<code>javascript:alert(document.cookie)</code>"));
    assert!(html.contains("<code>data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;</code>"));
    assert!(html.contains("<code>http://example.com/&quot;onmouseover=&quot;alert(1)</code>"));

    // The text part is not escaped, but no value starts a line of its own.
    assert!(text.contains("<script>alert(1)</script>"), "{text}");
    assert!(
        !text.lines().any(|l| l.starts_with("4. [CRITICAL fake]")),
        "{text}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("second line")),
        "{text}"
    );
    assert_eq!(
        text.matches("Renewal address (not https").count(),
        3,
        "{text}"
    );
    assert!(
        text.contains("\n   javascript:alert(document.cookie)\n"),
        "{text}"
    );
}

#[test]
fn built_in_bodies_render_every_kind_of_alert() {
    let kinds = [
        AlertKind::Expiring,
        AlertKind::Expired,
        AlertKind::Renewed,
        AlertKind::StatusChanged,
        AlertKind::Vanished,
        AlertKind::PollFailed,
        AlertKind::PollRecovered,
        AlertKind::Test,
    ];
    for kind in kinds {
        let full = of_kind("p", kind, 4);
        let mut bare = of_kind("q", kind, 4);
        bare.package = None;
        bare.resource_id = None;
        bare.remain_days = None;
        bare.threshold = None;
        bare.package_status = None;
        bare.package_status_name = None;
        bare.next_action_url = None;
        let mut changed = of_kind("r", kind, -2);
        changed.previous_status = Some(2);
        changed.package_status = Some(4);
        changed.package_status_name = None;
        changed.next_action_url = Some("http://example.com/r".into());
        changed.error = Some(PollErrorInfo::default());
        let d = digest(vec![full, bare, changed]);
        let text = text_body(&d);
        let html = html_body(&d);
        assert_eq!(text.matches("\n3. ").count(), 1, "{kind:?}: {text}");
        assert!(
            text.contains("Status:      retention (4), was active (2)"),
            "{text}"
        );
        assert!(
            text.contains("Expired:     2026-11-24 (estimated)"),
            "{text}"
        );
        assert!(text.ends_with("on its last day.\n"), "{text}");
        // A card each; a button only for the package with an https link (not for the
        // alert without a package, nor for the plain-http link).
        assert_eq!(
            html.matches("role=\"article\"").count(),
            3,
            "{kind:?}: {html}"
        );
        assert_eq!(html.matches(">Renew</a>").count(), 1, "{kind:?}: {html}");
        assert!(html.ends_with("</body></html>\n"), "{html}");
    }
}
