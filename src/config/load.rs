//! Loading: the TOML file, then the environment's overrides, then the secret files, then the
//! syntax checks.

use super::*;
use figment::providers::{Format, Serialized, Toml};
use figment::value::Dict;
use figment::Figment;
use std::path::{Path, PathBuf};

/// Which file to read: `--config`, else `RENEWD_CONFIG`, else the default path.
pub(crate) fn resolve_path(cli: Option<&Path>) -> PathBuf {
    if let Some(p) = cli {
        return p.to_path_buf();
    }
    match std::env::var_os("RENEWD_CONFIG") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_CONFIG_PATH),
    }
}

impl Config {
    /// Reads, overrides from the process environment, resolves secrets and validates.
    pub(crate) fn load(path: &Path) -> Result<Config, ConfigError> {
        let mut env: Vec<(String, String)> = std::env::vars().collect();
        // Outside the unit (an operator's `renewd status` while the service runs), the
        // service's credentials are still where systemd put them for it.
        if !env.iter().any(|(k, _)| k == "CREDENTIALS_DIRECTORY")
            && Path::new(SERVICE_CREDENTIALS).is_dir()
        {
            env.push(("CREDENTIALS_DIRECTORY".into(), SERVICE_CREDENTIALS.into()));
        }
        Self::load_with_env(path, &env)
    }

    /// [`Config::load`] with an explicit environment (tests).
    pub fn load_with_env(path: &Path, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_with_env(&text, env).map_err(|problems| ConfigError::Invalid {
            path: path.to_path_buf(),
            problems,
        })
    }

    /// Parses a config from TOML text and the given environment, then validates it.
    pub fn from_toml_with_env(
        text: &str,
        env: &[(String, String)],
    ) -> Result<Config, Vec<Problem>> {
        // Syntax first, by line and column: figment's message would quote the line, which may
        // hold a secret (`password = "…` without its closing quote).
        if let Err(e) = text.parse::<toml::Table>() {
            return Err(vec![toml_syntax_problem(text, &e)]);
        }
        let figment = Figment::from(Toml::string(text));
        let mut root: Dict = figment
            .extract::<Dict>()
            .map_err(|e| figment_problems(&e))?;
        apply_env_overrides(&mut root, env)?;
        let mut config: Config = Figment::from(Serialized::globals(root))
            .extract_lossy()
            .map_err(|e| figment_problems(&e))?;
        let credentials_dir = env
            .iter()
            .find(|(k, _)| k == "CREDENTIALS_DIRECTORY")
            .map(|(_, v)| PathBuf::from(v));
        let mut problems = config.resolve_secret_files(credentials_dir.as_deref());
        problems.extend(config.validate());
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }

    /// True when the file itself holds a secret inline (warned about when it is readable by others).
    pub(crate) fn has_inline_secrets(text: &str) -> bool {
        // Parse, not grep: a comment that mentions "password" is not a secret.
        let Ok(value) = text.parse::<toml::Table>() else {
            return false;
        };
        fn walk(v: &toml::Value) -> bool {
            match v {
                // Custom headers count too: they often carry tokens.
                toml::Value::Table(t) => t.iter().any(|(k, v)| {
                    (SECRET_KEYS.contains(&k.as_str()) && v.is_str())
                        || (k == "headers" && v.as_table().is_some_and(|h| !h.is_empty()))
                        || walk(v)
                }),
                toml::Value::Array(a) => a.iter().any(walk),
                _ => false,
            }
        }
        walk(&toml::Value::Table(value))
    }
}

/// A TOML syntax error: where it is and what is wrong, never the text there.
pub(super) fn toml_syntax_problem(text: &str, error: &toml::de::Error) -> Problem {
    let place = error
        .span()
        .and_then(|span| text.get(..span.start))
        .map(|before| {
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!(" at line {line}, column {column}")
        })
        .unwrap_or_default();
    Problem::new(
        "",
        format!("TOML parse error{place}: {}", error.message().trim()),
    )
}

/// Keys that hold secrets, each also accepted as `<key>_file`.
pub(super) const SECRET_KEYS: &[&str] = &[
    "token",
    "password",
    "sk",
    "security_token",
    "secret",
    "url",
    "fail_url",
    "bearer_token",
];

/// Turns figment's error chain into problems with `a.b[0].c` paths and plain-spoken reasons.
pub(super) fn figment_problems(error: &figment::Error) -> Vec<Problem> {
    use figment::error::Kind;
    error
        .clone()
        .into_iter()
        .map(|e| {
            let mut path = e.path.clone();
            let one_of = |names: &[&str]| {
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let reason = match &e.kind {
                Kind::Message(m) => m.trim().to_string(),
                Kind::UnknownField(field, expected) => {
                    // serde leaves the key itself out of the path inside tagged enums.
                    if path.last() != Some(field) {
                        path.push(field.clone());
                    }
                    format!(
                        "unknown key `{field}` (expected one of {})",
                        one_of(expected)
                    )
                }
                Kind::MissingField(field) => {
                    path.push(field.to_string());
                    "is required".to_string()
                }
                Kind::UnknownVariant(value, expected) => {
                    format!(
                        "unknown value {value:?} (expected one of {})",
                        one_of(expected)
                    )
                }
                // A secret given as a number, say: what is wrong, without echoing the value.
                Kind::InvalidType(_, expected) | Kind::InvalidValue(_, expected)
                    if may_hold_secret(&path) =>
                {
                    format!("invalid value (expected {expected}; a secret must be a quoted string)")
                }
                other => other.to_string(),
            };
            Problem::new(format_path(&path), reason)
        })
        .collect()
}

/// True for keys whose values must not be echoed in errors: anything under an account's `auth`
/// (serde cannot name the key inside it), custom headers, and the secret keys themselves.
pub(super) fn may_hold_secret(path: &[String]) -> bool {
    path.iter().any(|k| k == "auth" || k == "headers")
        || path
            .last()
            .is_some_and(|k| SECRET_KEYS.contains(&k.as_str()))
}

/// `["rules", "0", "receivers"]` → `rules[0].receivers`.
pub(crate) fn format_path(segments: &[String]) -> String {
    let mut out = String::new();
    for segment in segments {
        if !segment.is_empty() && segment.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    out
}
