//! Writes the man pages and the shell completions that the Debian package ships, generated from
//! the command line's definition (src/cli.rs) so that they never drift from it.
//!
//!     cargo run --example gen-assets -- target/assets
//!
//! Output: `man/renewd.1` (with FILES, ENVIRONMENT and EXIT STATUS sections) and one
//! `man/renewd-COMMAND.1` per subcommand; `completions/renewd.bash`, `completions/_renewd` (zsh)
//! and `completions/renewd.fish`. The paths are those `[package.metadata.deb]` in Cargo.toml takes.

use clap::CommandFactory;
use clap_complete::Shell;
use renewd::cli::Cli;
use renewd::commands::{EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};
use roff::{bold, italic, roman, Roff};
use std::path::{Path, PathBuf};

fn main() -> std::io::Result<()> {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: gen-assets OUT_DIR");
        std::process::exit(2);
    };
    let man = out.join("man");
    let completions = out.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;

    write_man_pages(&man)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = clap_complete::generate_to(shell, &mut Cli::command(), "renewd", &completions)?;
        println!("{}", path.display());
    }
    Ok(())
}

/// renewd(1) and one page per subcommand (renewd(1) names them in its SUBCOMMANDS section).
fn write_man_pages(dir: &Path) -> std::io::Result<()> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let source = format!("renewd {}", env!("CARGO_PKG_VERSION"));
    // Nested subcommands (`silence add`) get pages of their own too: their parent's page
    // names them.
    let mut pending: Vec<clap::Command> = cmd.get_subcommands().cloned().collect();
    while let Some(sub) = pending.pop() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        pending.extend(sub.get_subcommands().cloned());
        let page = clap_mangen::Man::new(sub).source(&source);
        println!("{}", page.generate_to(dir)?.display());
    }

    // The top page: clap_mangen's sections, then what an operator looks up in a man page.
    let page = clap_mangen::Man::new(cmd);
    let path = dir.join(page.get_filename());
    let mut text = Vec::new();
    page.render_title(&mut text)?;
    page.render_name_section(&mut text)?;
    page.render_synopsis_section(&mut text)?;
    page.render_description_section(&mut text)?;
    page.render_options_section(&mut text)?;
    page.render_subcommands_section(&mut text)?;
    operator_sections().to_writer(&mut text)?;
    page.render_version_section(&mut text)?;
    std::fs::write(&path, text)?;
    println!("{}", path.display());
    Ok(())
}

fn operator_sections() -> Roff {
    let mut roff = Roff::new();
    let item = |roff: &mut Roff, term: &str, text: &str| {
        roff.control("TP", []);
        roff.text([bold(term)]);
        roff.text([roman(text)]);
    };

    roff.control("SH", ["FILES"]);
    item(
        &mut roff,
        "/etc/renewd/renewd.toml",
        "The config file when neither --config nor RENEWD_CONFIG names one. It is read by the \
         service's transient user, so it holds no secret: give secrets as *_file names of \
         systemd credentials.",
    );
    item(
        &mut roff,
        "/var/lib/renewd/state.db",
        "The state store (SQLite): what was seen, decided and delivered. Under systemd it is \
         $STATE_DIRECTORY/state.db.",
    );
    item(
        &mut roff,
        "/usr/share/doc/renewd/examples/renewd.example.toml",
        "Every key, with its default and what it does.",
    );

    roff.control("SH", ["ENVIRONMENT"]);
    item(
        &mut roff,
        "RENEWD_CONFIG",
        "The config file, when --config is not given.",
    );
    item(
        &mut roff,
        "RENEWD_<SECTION>__<KEY>",
        "Overrides one config key, e.g. RENEWD_DAEMON__STATE_PATH.",
    );
    item(
        &mut roff,
        "CREDENTIALS_DIRECTORY",
        "Where relative *_file names are read (systemd sets it for LoadCredential=).",
    );
    item(
        &mut roff,
        "RENEWD_LOG",
        "The log filter, e.g. info or renewd=debug.",
    );

    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in [
        (EXIT_OK, "Success."),
        (
            EXIT_FAILURE,
            "A runtime failure: a poll failed, a delivery failed or is still pending (once), \
             another renewd holds the state file, or a test message was refused (test-notify).",
        ),
        (EXIT_USAGE, "A usage error."),
        (
            EXIT_CONFIG,
            "An invalid, missing or unreadable config (EX_CONFIG), or no CA certificates on the \
             system. systemd does not restart the service after this one.",
        ),
    ] {
        item(&mut roff, &code.to_string(), meaning);
    }

    roff.control("SH", ["SEE ALSO"]);
    roff.text([
        bold("systemctl"),
        roman("(1), "),
        bold("systemd.exec"),
        roman("(5), "),
        bold("systemd-creds"),
        roman("(1), "),
        italic("/usr/share/doc/renewd/README.md.gz"),
    ]);
    roff
}
