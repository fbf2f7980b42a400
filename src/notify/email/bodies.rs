//! What a digest says in mail: the subject, the plain-text part and the HTML part, as strings
//! (tested without SMTP). Every value in the HTML is escaped; only `https://` links are made
//! clickable.

use crate::model::Alert;
use crate::notify::render::{
    escape_html, expiry_label, kind_label, local_time, plural, project_label, remaining_label,
    safe_link, single_line, sorted_by_urgency, status_label,
};
use crate::notify::render::{package_name, subject};
use crate::notify::Digest;
use std::fmt::Write as _;

/// Facts shown for one alert, in both parts of the message.
struct Row<'a> {
    alert: &'a Alert,
    expiry: String,
}

fn rows(digest: &Digest) -> Vec<Row<'_>> {
    sorted_by_urgency(&digest.alerts)
        .into_iter()
        .map(|alert| Row {
            alert,
            expiry: expiry_label(alert),
        })
        .collect()
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

fn footer() -> &'static str {
    "Expiry dates are estimated: the day the remaining days were read, plus those days, in \
     GMT+08:00 (Huawei Cloud's billing day). A billing cycle ends at 23:59:59 GMT+08:00 on its \
     last day."
}

/// The plain-text part: readable on its own, one block per alert, the renewal URL on its own
/// line.
pub fn text_body(digest: &Digest) -> String {
    let mut out = String::new();
    let headline = subject(digest);
    let headline = headline.trim_start_matches("[renewd] ");
    let _ = writeln!(out, "renewd: {headline}");
    let _ = writeln!(
        out,
        "Receiver {}, sent {}",
        single_line(&digest.receiver),
        local_time(digest.sent_at, digest.timezone)
    );
    for (i, row) in rows(digest).iter().enumerate() {
        let a = row.alert;
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{}. [{}] {}",
            i + 1,
            kind_label(a),
            single_line(&a.summary)
        );
        let field = |out: &mut String, label: &str, value: &str| {
            let _ = writeln!(out, "   {label:<13}{}", single_line(value));
        };
        field(&mut out, "Account:", &a.account);
        field(&mut out, "Project:", project_label(a));
        if let Some(package) = &a.package {
            field(&mut out, "Package:", package);
        }
        if let Some(resource) = &a.resource_id {
            field(&mut out, "Resource:", resource);
        }
        if a.remain_days.is_some() {
            let mut remaining = remaining_label(a);
            if let Some(t) = a.threshold {
                let _ = write!(
                    remaining,
                    " (threshold {})",
                    plural(t.max(0) as usize, "day", "days")
                );
            }
            field(&mut out, "Remaining:", &remaining);
        }
        if a.package_status.is_some() || a.package_status_name.is_some() {
            let mut status = status_label(a);
            if let Some(previous) = a.previous_status {
                let _ = write!(
                    status,
                    ", was {} ({previous})",
                    crate::model::package_status_name(Some(previous))
                );
            }
            field(&mut out, "Status:", &status);
        }
        if let Some(days) = a.remain_days {
            let label = if days < 0 { "Expired:" } else { "Expires:" };
            field(&mut out, label, &format!("{} (estimated)", row.expiry));
        }
        if let Some(error) = poll_error_text(a) {
            field(&mut out, "Error:", &error);
        }
        match (safe_link(a), &a.next_action_url) {
            (Some(link), _) => {
                let _ = writeln!(out, "   Renew:");
                let _ = writeln!(out, "   {link}");
            }
            (None, Some(url)) => {
                let _ = writeln!(out, "   Renewal address (not https, check it before use):");
                let _ = writeln!(out, "   {}", single_line(url));
            }
            (None, None) => {}
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "-- ");
    let _ = writeln!(out, "{}", footer());
    out
}

/// The HTML part: account-level alerts as a list, packages as a table sorted by urgency with
/// a Renew link each. Every value is escaped; only `https://` links are clickable.
pub fn html_body(digest: &Digest) -> String {
    let rows = rows(digest);
    let (packages, scopes): (Vec<&Row>, Vec<&Row>) =
        rows.iter().partition(|r| r.alert.package.is_some());
    let title = subject(digest);
    let headline = title.trim_start_matches("[renewd] ");

    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"font-family:sans-serif;font-size:14px;color:#222\">\n\
         <h2 style=\"font-size:18px\">{}</h2>\n\
         <p style=\"color:#555\">Receiver {}, sent {}</p>\n",
        escape_html(&title),
        escape_html(headline),
        escape_html(&digest.receiver),
        escape_html(&local_time(digest.sent_at, digest.timezone)),
    );

    if !scopes.is_empty() {
        out.push_str("<ul>\n");
        for row in scopes {
            let a = row.alert;
            let _ = write!(
                out,
                "<li><strong>{}</strong>: {}",
                escape_html(&kind_label(a)),
                escape_html(&a.summary)
            );
            if let Some(error) = poll_error_text(a) {
                let _ = write!(
                    out,
                    "<br><span style=\"color:#555\">{}</span>",
                    escape_html(&error)
                );
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n");
    }

    if !packages.is_empty() {
        const CELL: &str = "style=\"border:1px solid #ccc;padding:4px 8px;text-align:left\"";
        let _ = write!(
            out,
            "<table style=\"border-collapse:collapse\">\n<thead><tr>\
             <th {CELL}>Alert</th><th {CELL}>Account</th><th {CELL}>Project</th>\
             <th {CELL}>Package</th><th {CELL}>Remaining days</th><th {CELL}>Status</th>\
             <th {CELL}>Expires (est.)</th><th {CELL}>Renew</th></tr></thead>\n<tbody>\n"
        );
        for row in packages {
            let a = row.alert;
            let remaining = a
                .remain_days
                .map(|d| d.to_string())
                .unwrap_or_else(|| "-".into());
            let renew = match (safe_link(a), &a.next_action_url) {
                (Some(link), _) => format!("<a href=\"{}\">Renew</a>", escape_html(link)),
                // Shown so that people can check it, but never as a link.
                (None, Some(url)) => format!(
                    "<span style=\"color:#a00\">not a secure link:</span> <code>{}</code>",
                    escape_html(url)
                ),
                (None, None) => "-".into(),
            };
            let _ = writeln!(
                out,
                "<tr><td {CELL}><strong>{}</strong><br><span style=\"color:#555\">{}</span></td>\
                 <td {CELL}>{}</td><td {CELL}>{}</td><td {CELL}>{}</td><td {CELL}>{}</td>\
                 <td {CELL}>{}</td><td {CELL}>{}</td><td {CELL}>{renew}</td></tr>",
                escape_html(&kind_label(a)),
                escape_html(&a.summary),
                escape_html(&a.account),
                escape_html(project_label(a)),
                escape_html(package_name(a)),
                escape_html(&remaining),
                escape_html(&status_label(a)),
                escape_html(&row.expiry),
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }

    let _ = write!(
        out,
        "<p style=\"color:#777;font-size:12px\">{}</p>\n</body></html>\n",
        escape_html(footer())
    );
    out
}
