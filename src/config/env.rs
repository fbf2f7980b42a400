//! `RENEWD_*` environment overrides, with `__` between levels.

use super::*;
use figment::value::{Dict, Value};

/// Applies `RENEWD_A__B__C=value` overrides. Values stay strings (a password `0123` must not
/// become the number 123); numbers and booleans are read leniently at extraction. Accounts (an
/// array) and receivers are addressed by name: `RENEWD_ACCOUNTS__PROD__AUTH__SK`.
pub(super) fn apply_env_overrides(
    root: &mut Dict,
    env: &[(String, String)],
) -> Result<(), Vec<Problem>> {
    let mut problems = Vec::new();
    let mut vars: Vec<&(String, String)> = env
        .iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX) && !ENV_NOT_OVERRIDES.contains(&k.as_str()))
        .collect();
    vars.sort();
    for (name, value) in vars {
        let keys: Vec<String> = name[ENV_PREFIX.len()..]
            .split("__")
            .map(|s| s.to_ascii_lowercase())
            .collect();
        if keys.iter().any(|k| k.is_empty()) {
            problems.push(Problem::new(name.clone(), "empty key between `__`"));
            continue;
        }
        let leaf = Value::from(value.clone());
        let result = match keys[0].as_str() {
            "accounts" if keys.len() >= 3 => patch_named_array(root, &keys, leaf),
            "receivers" if keys.len() >= 3 => patch_named_map(root, &keys, leaf),
            "accounts" | "receivers" => Err(format!(
                "use {ENV_PREFIX}{}__<NAME>__<KEY>",
                keys[0].to_ascii_uppercase()
            )),
            _ => {
                set_path(root, &keys, leaf);
                Ok(())
            }
        };
        if let Err(reason) = result {
            problems.push(Problem::new(name.clone(), reason));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Names in environment variables are upper case and cannot hold `-`: compare loosely.
pub(super) fn env_name_matches(env_name: &str, name: &str) -> bool {
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    norm(env_name) == norm(name)
}

pub(super) fn patch_named_array(
    root: &mut Dict,
    keys: &[String],
    leaf: Value,
) -> Result<(), String> {
    let Some(Value::Array(_, items)) = root.get_mut(&keys[0]) else {
        return Err(format!("there is no [[{}]] in the config file", keys[0]));
    };
    for item in items.iter_mut() {
        if let Value::Dict(_, dict) = item {
            let named = matches!(dict.get("name"), Some(Value::String(_, n)) if env_name_matches(&keys[1], n));
            if named {
                set_path(dict, &keys[2..], leaf);
                return Ok(());
            }
        }
    }
    Err(format!(
        "no {} named {:?}",
        &keys[0][..keys[0].len() - 1],
        keys[1]
    ))
}

pub(super) fn patch_named_map(root: &mut Dict, keys: &[String], leaf: Value) -> Result<(), String> {
    let Some(Value::Dict(_, map)) = root.get_mut(&keys[0]) else {
        return Err(format!("there is no [{}] in the config file", keys[0]));
    };
    let Some(name) = map.keys().find(|n| env_name_matches(&keys[1], n)).cloned() else {
        return Err(format!("no receiver named {:?}", keys[1]));
    };
    match map.get_mut(&name) {
        Some(Value::Dict(_, dict)) => {
            set_path(dict, &keys[2..], leaf);
            Ok(())
        }
        _ => Err(format!("receivers.{name} is not a table")),
    }
}

pub(super) fn set_path(dict: &mut Dict, keys: &[String], leaf: Value) {
    if keys.len() == 1 {
        dict.insert(keys[0].clone(), leaf);
        return;
    }
    let entry = dict
        .entry(keys[0].clone())
        .or_insert_with(|| Value::from(Dict::new()));
    if !matches!(entry, Value::Dict(..)) {
        *entry = Value::from(Dict::new());
    }
    if let Value::Dict(_, inner) = entry {
        set_path(inner, &keys[1..], leaf);
    }
}
