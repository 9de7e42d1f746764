//! Layer 1: the host crates' unit tests, through cargo.
//!
//! cargo's output is shown as it comes (people read it) and parsed afterwards: each test binary
//! ends with `test result: ok. N passed; M failed; ...`, and a failing test prints
//! `test NAME ... FAILED`. `--no-fail-fast` runs every binary even when one fails. A cargo failure
//! with no failed test (a compile error) counts as one failed test, so it cannot go unnoticed.

use super::{Failure, Outcome, Tally};
use crate::cargo;
use crate::error::Result;
use crate::runner::{self, Ending, Mode, Spec};

/// Counts from cargo test output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CargoCounts {
    /// Sum of `N passed` over the result lines.
    pub passed: usize,
    /// Sum of `M failed`.
    pub failed: usize,
    /// Result lines seen (one per test binary or doc-test run).
    pub binaries: usize,
    /// Names from `test NAME ... FAILED`.
    pub failed_names: Vec<String>,
}

/// Parses cargo test's output.
pub fn parse_cargo_output(text: &str) -> CargoCounts {
    let mut c = CargoCounts::default();
    let mut binary = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = test_binary(line) {
            binary = name;
        } else if let Some(rest) = line.strip_prefix("test result: ") {
            let counts = rest.split_once(". ").map_or("", |(_, counts)| counts);
            let mut passed = None;
            let mut failed = None;
            for part in counts.split(';') {
                let mut words = part.split_whitespace();
                let (Some(n), Some(what)) = (words.next(), words.next()) else {
                    continue;
                };
                match (n.parse::<usize>(), what) {
                    (Ok(n), "passed") => passed = Some(n),
                    (Ok(n), "failed") => failed = Some(n),
                    _ => {}
                }
            }
            if let (Some(p), Some(f)) = (passed, failed) {
                c.passed += p;
                c.failed += f;
                c.binaries += 1;
            }
        } else if let Some(name) = line
            .strip_prefix("test ")
            .and_then(|l| l.strip_suffix(" ... FAILED"))
        {
            c.failed_names.push(format!("host::{binary}::{name}"));
        }
    }
    c
}

/// The test binary a cargo `Running ...` or `Doc-tests ...` line starts (`nimbus_board`,
/// `real_dtbs`), so failures can be named `host::<binary>::<test>`.
fn test_binary(line: &str) -> Option<String> {
    if let Some(krate) = line.strip_prefix("Doc-tests ") {
        return Some(format!("{}(doc)", krate.trim()));
    }
    let rest = line.strip_prefix("Running ")?;
    let file = rest.rsplit(['/', '\\']).next()?.trim_end_matches(')');
    let stem = file.rsplit_once('-').map_or(file, |(stem, _hash)| stem);
    Some(stem.to_string())
}

/// Runs the host tests and adds them to the tally.
pub fn run(tally: &mut Tally) -> Result<()> {
    let mut args = vec!["test".to_string()];
    args.extend(cargo::host_workspace_args());
    args.push("--no-fail-fast".into());
    let cmd = cargo::command();
    let program = cmd.get_program().to_string_lossy().into_owned();
    println!("==> {}", crate::qemu::shell_line("cargo", &args));
    let spec = Spec {
        program: &program,
        args,
        log: crate::paths::logs_dir().join("host-tests.log"),
        timeout: None,
        mode: Mode::Interactive,
        stop_when: None,
    };
    let outcome = runner::run(&spec)?;
    crate::interrupt::check()?;
    let counts = parse_cargo_output(&outcome.output);
    let cargo_ok = outcome.ending == Ending::Exited(0);
    tally.add_counts(counts.passed, counts.failed, counts.failed_names);
    if !cargo_ok && counts.failed == 0 {
        tally.record(&Outcome::fail(
            "host::cargo-test",
            Failure {
                reason: format!(
                    "cargo test ended with {} before any test failed (a build error?)",
                    outcome.ending
                ),
                log: Some(spec.log.clone()),
                tail: Some(runner::tail(&outcome.output, super::TAIL_LINES)),
            },
        ));
    } else if counts.binaries == 0 {
        tally.record(&Outcome::fail(
            "host::cargo-test",
            Failure::new("cargo test printed no `test result:` line"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "\
     Running unittests src/lib.rs (target/debug/deps/nimbus_boot-1234abcd)

running 3 tests
test header::tests::parses ... ok
test archive::tests::round_trips ... FAILED
test layout::tests::ordered ... ok

test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s

     Running unittests src/main.rs (target/debug/deps/xtask-5678)

running 40 tests
test result: ok. 40 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1.20s

   Doc-tests nimbus_boot

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
";

    #[test]
    fn sums_result_lines_and_names_failures() {
        let c = parse_cargo_output(OUTPUT);
        assert_eq!(c.passed, 42);
        assert_eq!(c.failed, 1);
        assert_eq!(c.binaries, 3);
        assert_eq!(
            c.failed_names,
            ["host::nimbus_boot::archive::tests::round_trips"]
        );
    }

    #[test]
    fn names_the_test_binary() {
        let running = "Running tests/real_dtbs.rs (target/debug/deps/real_dtbs-6fc59886c4064909)";
        assert_eq!(test_binary(running).as_deref(), Some("real_dtbs"));
        assert_eq!(
            test_binary("Doc-tests nimbus_board").as_deref(),
            Some("nimbus_board(doc)")
        );
        assert_eq!(test_binary("test a ... ok"), None);
    }

    #[test]
    fn ignores_what_is_not_a_result_line() {
        let c = parse_cargo_output("error[E0425]: cannot find value `x`\ntest result: garbage\n");
        assert_eq!(c, CargoCounts::default());
    }
}
