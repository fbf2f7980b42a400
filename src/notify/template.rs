//! The limits every message template (built-in or a receiver's own) runs under: a template
//! that loops for ever or writes without end fails with a clear error instead of stalling the
//! daemon or exhausting its memory. Config validation renders each user template once, so such
//! a template is refused at load.

use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde::Serialize;

/// Instructions one rendering may run: far more than a digest of thousands of alerts needs,
/// and a loop without end stops in a fraction of a second.
pub(crate) const FUEL: u64 = 1_000_000;
/// The most text one rendering may write (chat platforms take a few kilobytes, mail a few
/// hundred).
pub(crate) const MAX_OUTPUT_BYTES: usize = 4 * 1024 * 1024;

/// A template that did not render: which key of the receiver holds it, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} failed: {reason}")]
pub struct TemplateError {
    /// The receiver's key, e.g. `text_template`, or which built-in template.
    pub field: &'static str,
    pub(crate) reason: String,
}

/// An environment with strict undefined variables and [`FUEL`].
pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env
}

/// Renders template `name` of `env`, writing at most [`MAX_OUTPUT_BYTES`]. The error says what
/// went wrong, in the template's own words where it has them.
pub(crate) fn render<S: Serialize>(
    env: &Environment<'_>,
    name: &str,
    context: S,
) -> Result<String, String> {
    let mut out = Limited::default();
    let result = env
        .get_template(name)
        .and_then(|template| template.render_captured_to(context, &mut out).map(|_| ()));
    match result {
        Ok(_) => Ok(String::from_utf8_lossy(&out.text).into_owned()),
        Err(e) if e.kind() == ErrorKind::OutOfFuel => Err(format!(
            "the template runs too long (more than {FUEL} steps; a loop without end?)"
        )),
        Err(_) if out.overflowed => Err(too_large()),
        Err(e) => Err(e.to_string()),
    }
}

/// Refuses a value larger than the output may be, before it is escaped or wrapped: escaping
/// a 100 MB string only to drop it at the limit would take seconds.
pub(crate) fn check_len(len: usize) -> Result<(), minijinja::Error> {
    if len > MAX_OUTPUT_BYTES {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            too_large(),
        ));
    }
    Ok(())
}

fn too_large() -> String {
    format!(
        "the template writes more than {} MiB",
        MAX_OUTPUT_BYTES / (1024 * 1024)
    )
}

/// A buffer that refuses to grow past [`MAX_OUTPUT_BYTES`].
#[derive(Default)]
struct Limited {
    text: Vec<u8>,
    overflowed: bool,
}

impl std::io::Write for Limited {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.text.len() + buf.len() > MAX_OUTPUT_BYTES {
            self.overflowed = true;
            return Err(std::io::Error::other("template output too large"));
        }
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(source: &str) -> Result<String, String> {
        let mut env = environment();
        env.add_template_owned("t", source.to_string()).unwrap();
        render(&env, "t", minijinja::context! { n => 3 })
    }

    #[test]
    fn ordinary_templates_render() {
        assert_eq!(
            run("{% for i in range(n) %}{{ i }}{% endfor %}").unwrap(),
            "012"
        );
    }

    #[test]
    fn a_loop_without_end_runs_out_of_fuel() {
        let e =
            run("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
                .unwrap_err();
        assert!(e.contains("runs too long"), "{e}");
    }

    #[test]
    fn endless_output_is_cut_off() {
        let e = run("{% for i in range(100) %}{{ 'x' * 1000000 }}{% endfor %}").unwrap_err();
        assert!(e.contains("writes more than 4 MiB"), "{e}");
    }

    #[test]
    fn other_errors_keep_their_words() {
        let e = run("{{ missing }}").unwrap_err();
        assert!(e.contains("undefined"), "{e}");
    }
}
