//! Checks shared by several sections, and the ones across sections.

use super::*;

/// `https://…`, or `http://` to a loopback address (tests, local proxies).
pub(crate) fn check_endpoint(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if parsed.host_str().is_none() {
        return Err(format!("{url:?} has no host"));
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(parsed.host_str().unwrap_or("")) => Ok(()),
        "http" => Err(format!(
            "{url:?} must be https:// (http:// is allowed only on a loopback address)"
        )),
        other => Err(format!(
            "{url:?}: unsupported scheme {other:?}, use https://"
        )),
    }
}

/// True for `localhost`, 127.0.0.0/8 and ::1.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

pub(crate) fn is_project_id(s: &str) -> bool {
    s.len() == 32
        && s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

impl Config {
    /// Every problem at once, so an operator fixes the file in one go: each section checks
    /// itself; what needs two sections (names, receivers a rule names) is checked here.
    pub(super) fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        self.daemon.check(&mut problems);
        if self.accounts.is_empty() {
            problems.push(Problem::new(
                "accounts",
                "at least one [[accounts]] is required",
            ));
        }
        let mut account_names = std::collections::HashSet::new();
        for (i, account) in self.accounts.iter().enumerate() {
            let p = format!("accounts[{i}]");
            if account.name.trim().is_empty() {
                problems.push(Problem::new(format!("{p}.name"), "must not be empty"));
            } else if !account_names.insert(account.name.as_str()) {
                problems.push(Problem::new(
                    format!("{p}.name"),
                    format!("duplicate account name {:?}", account.name),
                ));
            }
            account.check(&p, &mut problems);
        }
        if self.receivers.is_empty() {
            problems.push(Problem::new(
                "receivers",
                "at least one [receivers.NAME] is required",
            ));
        }
        for (name, receiver) in &self.receivers {
            receiver.check(
                &format!("receivers.{name}"),
                self.smtp.is_some(),
                &mut problems,
            );
        }
        if let Some(smtp) = &self.smtp {
            smtp.check(&mut problems);
        }
        if let Some(heartbeat) = &self.heartbeat {
            heartbeat.check(&mut problems);
        }
        if self.rules.is_empty() {
            problems.push(Problem::new("rules", "at least one [[rules]] is required"));
        }
        let mut rule_names = std::collections::HashSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let p = format!("rules[{i}]");
            if rule.name.trim().is_empty() {
                problems.push(Problem::new(format!("{p}.name"), "must not be empty"));
            } else if !rule_names.insert(rule.name.as_str()) {
                problems.push(Problem::new(
                    format!("{p}.name"),
                    format!("duplicate rule name {:?}", rule.name),
                ));
            }
            rule.check(&p, &self.receivers, &mut problems);
        }
        problems
    }
}
