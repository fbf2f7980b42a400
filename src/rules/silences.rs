//! Which decisions a silence holds back: the silences in force, their globs compiled once per
//! cycle, matched against each decision. Pure: the silences and `now` come from the caller.

use super::ruleset::{GlobList, RulesError};
use crate::model::{Alert, Silence, SilenceMatchers};
use chrono::{DateTime, Utc};

/// The silences in force at one instant, ready to match decisions.
#[derive(Debug, Clone, Default)]
pub(crate) struct SilenceSet {
    silences: Vec<(Silence, Matchers)>,
}

#[derive(Debug, Clone)]
struct Matchers {
    account: Option<GlobList>,
    project: Option<GlobList>,
    package: Option<GlobList>,
    resource: Option<GlobList>,
}

impl SilenceSet {
    /// The silences of `silences` in force at `now`, compiled. A silence whose glob does not
    /// compile (it was checked when it was added) is left out and reported.
    pub(crate) fn in_force(
        silences: &[Silence],
        now: DateTime<Utc>,
    ) -> (SilenceSet, Vec<(i64, RulesError)>) {
        let mut set = SilenceSet::default();
        let mut refused = Vec::new();
        for silence in silences.iter().filter(|s| s.in_force(now)) {
            match compile(&silence.matchers) {
                Ok(matchers) => set.silences.push((silence.clone(), matchers)),
                Err(error) => refused.push((silence.id, error)),
            }
        }
        (set, refused)
    }

    /// The silence that holds `alert` back, if any (the one that ends last).
    pub(crate) fn silencing(&self, alert: &Alert) -> Option<&Silence> {
        self.silencing_fields(
            &alert.account,
            alert.project_id.as_deref().unwrap_or(""),
            alert.package.as_deref(),
            alert.resource_id.as_deref(),
        )
    }

    /// The silence that holds back decisions about an item (or, without package and resource,
    /// a scope), if any: the one that ends last.
    pub(crate) fn silencing_fields(
        &self,
        account: &str,
        project: &str,
        package: Option<&str>,
        resource: Option<&str>,
    ) -> Option<&Silence> {
        self.silences
            .iter()
            .filter(|(_, m)| m.matches(account, project, package, resource))
            .map(|(s, _)| s)
            .max_by_key(|s| s.end())
    }

    pub(crate) fn len(&self) -> usize {
        self.silences.len()
    }
}

/// Checks the globs of `matchers`, for `renewd silence add`.
pub(crate) fn check_matchers(matchers: &SilenceMatchers) -> Result<(), RulesError> {
    compile(matchers).map(|_| ())
}

fn compile(matchers: &SilenceMatchers) -> Result<Matchers, RulesError> {
    let mut errors = Vec::new();
    let mut one = |field: &'static str, glob: &Option<String>| {
        glob.as_ref()
            .map(|g| GlobList::compile(field, std::slice::from_ref(g), &mut errors))
    };
    let compiled = Matchers {
        account: one("account", &matchers.account),
        project: one("project", &matchers.project),
        package: one("package", &matchers.package),
        resource: one("resource", &matchers.resource),
    };
    match errors.into_iter().next() {
        Some(error) => Err(error),
        None => Ok(compiled),
    }
}

impl Matchers {
    fn matches(
        &self,
        account: &str,
        project: &str,
        package: Option<&str>,
        resource: Option<&str>,
    ) -> bool {
        let field = |globs: &Option<GlobList>, value: Option<&str>| match (globs, value) {
            (None, _) => true,
            (Some(globs), Some(value)) => globs.matches(value),
            (Some(_), None) => false,
        };
        field(&self.account, Some(account))
            && field(&self.project, Some(project))
            && field(&self.package, package)
            && field(&self.resource, resource)
    }
}
