//! The message catalogue: every built-in text a person reads, in every [`Locale`].
//!
//! One TOML file per locale (`i18n/en.toml`, `i18n/zh-CN.toml`), embedded in the binary. A key
//! is a dotted path (`kind.expiring`); a text may hold `{name}` placeholders, filled by
//! [`fill`]. A count is a table with `one` and `other` ([`count`]): `one` when the number is 1
//! (Chinese has no plural, its two forms say the same). The tests below fail when a locale
//! lacks a key, has an empty text or other placeholders than English.
//!
//! Only what people read goes through here: log events, metrics, JSON field names and
//! renewd's own JSON (`summary` included, written by the rules in English) stay as they are.

pub use crate::model::Locale;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::LazyLock;

type Catalogue = BTreeMap<String, String>;

/// The catalogue file of each locale.
fn source(locale: Locale) -> &'static str {
    match locale {
        Locale::En => include_str!("i18n/en.toml"),
        Locale::ZhCn => include_str!("i18n/zh-CN.toml"),
    }
}

static CATALOGUES: LazyLock<BTreeMap<Locale, Catalogue>> = LazyLock::new(|| {
    Locale::ALL
        .into_iter()
        .map(|locale| {
            let table: toml::Table = toml::from_str(source(locale)).unwrap_or_else(|e| {
                panic!("built-in message catalogue {locale}: {e}");
            });
            let mut flat = Catalogue::new();
            flatten("", &table, &mut flat);
            (locale, flat)
        })
        .collect()
});

fn flatten(prefix: &str, table: &toml::Table, out: &mut Catalogue) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&path, inner, out),
            toml::Value::String(text) => {
                out.insert(path, text.clone());
            }
            other => panic!("message catalogue: {path} is not text: {other}"),
        }
    }
}

fn catalogue(locale: Locale) -> &'static Catalogue {
    &CATALOGUES[&locale]
}

/// The text of `key` in `locale`. A key missing there (which the tests forbid) falls back to
/// English, and a key missing everywhere is shown as itself: a message is never lost to a
/// missing word.
pub(crate) fn text(locale: Locale, key: &str) -> &'static str {
    catalogue(locale)
        .get(key)
        .or_else(|| catalogue(Locale::En).get(key))
        .map(String::as_str)
        .unwrap_or_else(|| {
            debug_assert!(false, "message key {key} is in no catalogue");
            // Leaked once per unknown key at most in practice (a bug the tests catch).
            Box::leak(key.to_string().into_boxed_str())
        })
}

/// Whether `key` is a message key (of the English catalogue, which every locale has).
pub(crate) fn has(key: &str) -> bool {
    catalogue(Locale::En).contains_key(key)
}

/// The text of `key` with each `{name}` replaced by its value.
pub(crate) fn fill(locale: Locale, key: &str, args: &[(&str, &dyn Display)]) -> String {
    let mut out = text(locale, key).to_string();
    for (name, value) in args {
        let placeholder = format!("{{{name}}}");
        if out.contains(&placeholder) {
            out = out.replace(&placeholder, &value.to_string());
        }
    }
    out
}

/// The count `key` (a table of `one` and `other`) for `n`, with `{n}` and `args` filled.
pub(crate) fn count(locale: Locale, key: &str, n: usize, args: &[(&str, &dyn Display)]) -> String {
    let form = if n == 1 { "one" } else { "other" };
    let mut all: Vec<(&str, &dyn Display)> = vec![("n", &n)];
    all.extend_from_slice(args);
    fill(locale, &format!("{key}.{form}"), &all)
}

/// `N days` / `N 天`.
pub(crate) fn days(locale: Locale, n: i64) -> String {
    let shown: &dyn Display = &n;
    let form = if n == 1 { "one" } else { "other" };
    fill(locale, &format!("days.{form}"), &[("n", shown)])
}

/// The words of the `label` table, by their key without `label.`: what templates see as
/// `labels` (e.g. `labels.renew`). Texts with placeholders are given as written.
pub(crate) fn labels(locale: Locale) -> BTreeMap<&'static str, &'static str> {
    catalogue(locale)
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("label.")?, v.as_str())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn placeholders(text: &str) -> BTreeSet<&str> {
        text.split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
            .collect()
    }

    #[test]
    fn every_locale_has_every_message_key_with_the_same_placeholders() {
        let english = catalogue(Locale::En);
        assert!(english.len() > 100, "{}", english.len());
        let mut problems = Vec::new();
        for locale in Locale::ALL {
            let theirs = catalogue(locale);
            for (key, en) in english {
                match theirs.get(key) {
                    None => problems.push(format!("{locale}: {key} is missing")),
                    Some(t) if t.trim().is_empty() => {
                        problems.push(format!("{locale}: {key} is empty"))
                    }
                    Some(t) if placeholders(t) != placeholders(en) => problems.push(format!(
                        "{locale}: {key} has placeholders {:?}, English {:?}",
                        placeholders(t),
                        placeholders(en)
                    )),
                    Some(_) => {}
                }
            }
            for key in theirs.keys().filter(|k| !english.contains_key(*k)) {
                problems.push(format!("{locale}: {key} is not an English key"));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn counts_have_both_forms() {
        for key in catalogue(Locale::En).keys() {
            if let Some(base) = key.strip_suffix(".one") {
                assert!(
                    catalogue(Locale::En).contains_key(&format!("{base}.other")),
                    "{base}"
                );
            }
        }
    }

    #[test]
    fn fills_placeholders_and_counts() {
        assert_eq!(days(Locale::En, 1), "1 day");
        assert_eq!(days(Locale::En, 6), "6 days");
        assert_eq!(days(Locale::ZhCn, 6), "6 天");
        assert_eq!(
            fill(
                Locale::ZhCn,
                "expiry.in",
                &[("days", &days(Locale::ZhCn, 6)), ("date", &"2026-12-13")]
            ),
            "6 天后到期（2026-12-13）"
        );
        assert_eq!(
            count(Locale::En, "summary.tests", 2, &[]),
            "2 test messages"
        );
        assert_eq!(text(Locale::ZhCn, "label.renew"), "续费");
        assert_eq!(labels(Locale::En)["renew"], "Renew");
    }

    #[test]
    fn locale_names_round_trip() {
        for locale in Locale::ALL {
            assert_eq!(Locale::from_name(locale.as_str()), Some(locale));
        }
        assert_eq!(Locale::from_name("zh-cn"), None);
        assert_eq!(Locale::names(), "en, zh-CN");
    }
}
