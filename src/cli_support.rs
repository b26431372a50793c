//! The one way the binaries of this package turn a bad command line into
//! one line on stderr and exit status 2.
//!
//! clap's own report of a bad flag is several lines long and ends in a
//! usage block; scripts read stderr, so every binary here prints the first
//! line only, as `PROGRAM: MESSAGE (see --help)`. `--help` and
//! `--version` still print in full, on stdout, and exit 0. Exists with the
//! `cli` cargo feature (on by default), like clap itself.

use clap::Parser;

/// Parses the process's arguments into `C`, or ends the process: `--help`
/// and `--version` print and exit 0, anything clap refuses prints
/// [`one_line`] on stderr and exits 2.
pub fn parse_or_exit<C: Parser>(program: &str) -> C {
    C::try_parse().unwrap_or_else(|error| {
        if !error.use_stderr() {
            // --help or --version: not an error.
            let _ = error.print();
            std::process::exit(0);
        }
        eprintln!("{}", one_line(program, &error));
        std::process::exit(2)
    })
}

/// `PROGRAM: MESSAGE (see --help)`, from the first line of clap's report
/// without its `error: ` prefix.
pub fn one_line(program: &str, error: &clap::Error) -> String {
    let rendered = error.to_string();
    let first = rendered.lines().next().unwrap_or("invalid arguments");
    let message = first.strip_prefix("error: ").unwrap_or(first);
    format!("{program}: {message} (see --help)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Parser, Debug)]
    struct Flags {
        #[arg(long)]
        count: u32,
    }

    #[test]
    fn a_refused_flag_becomes_one_line_naming_the_program() {
        let error = Flags::try_parse_from(["x", "--count", "many"]).unwrap_err();
        let line = one_line("echo-test", &error);
        assert!(
            line.starts_with("echo-test: invalid value 'many'"),
            "{line}"
        );
        assert!(line.ends_with(" (see --help)"), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }
}
