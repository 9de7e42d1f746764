//! The command line: `cargo xtask <command> [options]`.
//!
//! A small hand-written parser: the grammar is a handful of flags per command, and a parser crate
//! would cost more build time than this file. Options take their value as `--opt VALUE` or
//! `--opt=VALUE`; `run` passes everything after `--` to QEMU untouched.

use crate::error::{Error, Result};
use crate::qemu::Gic;
use std::path::PathBuf;

/// The text `cargo xtask help` prints.
pub const HELP: &str = "\
cargo xtask <command> [options]

Commands:
  build [--test-image]        build the kernel and write target/nimbus/Image (+ nimbus-kernel.elf);
                              --test-image writes the kernel test image to target/nimbus/test/
  image [--test-image]        build, then print section sizes, the Image and its boot archive
  run [options] [-- ARGS]     boot the Image under qemu-system-aarch64 (ARGS go to QEMU)
  test                        run every test: host unit tests, the kernel tests on a matrix of
                              QEMU machines, and boot checks (good and broken device trees)
  dt-info FILE.dtb [--json]   describe a device tree blob as the kernel would see it
  lint                        cargo fmt --check, and clippy on the host crates and the kernel
  bench [--json FILE] [--timeout SECS]
                              boot the benchmark image under QEMU -icount shift=0 and print
                              instructions per operation (min / median / mean / max / n);
                              --json FILE writes them as JSON too; not a pass/fail test
  help                        this text

run options:
  --profile NAME      start from a named machine of qemu/profiles.txt (the kernel test matrix)
  --smp N             CPUs (default 2)
  --memory SIZE       RAM, e.g. 128M, 2G, 5G (default 512M)
  --gic 2|3           interrupt controller version (default 2)
  --el2               enter the kernel at EL2 (virtualization=on)
  --cpu NAME          QEMU CPU model (default cortex-a53; e.g. cortex-a57, max)
  --headless          no display window (the default when neither $DISPLAY nor $WAYLAND_DISPLAY is set)
  --uboot             boot through U-Boot from a virtio disk (FAT32: /Image and /boot.scr)
  --test-image        boot the kernel test image
  --dtb FILE          hand the kernel exactly this device tree (direct loader, one CPU)
  --load-addr ADDR    load the Image at this physical address (direct loader, one CPU)
  --timeout SECS      stop QEMU after SECS seconds

QEMU exits with the kernel's semihosting status; `run` exits with it and explains it.
Quit an interactive QEMU with Ctrl-A x.

test: logs of every QEMU run are in target/nimbus/logs/; NIMBUS_TEST_JOBS=N sets how many
QEMU boots run at once (default: half the host's CPUs).";

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Build an Image.
    Build { test_image: bool },
    /// Build, then print sizes.
    Image { test_image: bool },
    /// Boot under QEMU.
    Run(RunOptions),
    /// Run every test.
    Test,
    /// Describe a device tree.
    DtInfo { file: PathBuf, json: bool },
    /// fmt and clippy.
    Lint,
    /// Print the help.
    Help,
    /// Run the benchmarks.
    Bench(BenchOptions),
}

/// Options of `bench`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BenchOptions {
    /// Also write the figures as JSON here.
    pub json: Option<PathBuf>,
    /// Stop QEMU after this many seconds (default: `bench::DEFAULT_TIMEOUT_SECS`).
    pub timeout_secs: Option<u64>,
}

/// Options of `run`; `None` means "the profile's or the default value".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOptions {
    pub profile: Option<String>,
    pub smp: Option<u32>,
    pub memory_mib: Option<u64>,
    pub gic: Option<Gic>,
    pub el2: bool,
    pub cpu: Option<String>,
    pub headless: bool,
    pub uboot: bool,
    pub test_image: bool,
    pub dtb: Option<PathBuf>,
    pub load_addr: Option<u64>,
    pub timeout_secs: Option<u64>,
    /// Arguments after `--`, passed to QEMU as they are.
    pub qemu_args: Vec<String>,
}

/// Parses the arguments after `cargo xtask`.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command> {
    let mut args = Args::new(args);
    let Some(command) = args.next() else {
        return Ok(Command::Help);
    };
    let parsed = match command.as_str() {
        "build" | "image" => {
            let mut test_image = false;
            while let Some(arg) = args.next() {
                match arg.as_str() {
                    "--test-image" => test_image = true,
                    _ => return Err(unexpected(&command, &arg)),
                }
            }
            if command == "build" {
                Command::Build { test_image }
            } else {
                Command::Image { test_image }
            }
        }
        "run" => Command::Run(parse_run(&mut args)?),
        "test" | "lint" => {
            if let Some(arg) = args.next() {
                return Err(unexpected(&command, &arg));
            }
            if command == "test" {
                Command::Test
            } else {
                Command::Lint
            }
        }
        "dt-info" => {
            let mut file = None;
            let mut json = false;
            while let Some(arg) = args.next() {
                match arg.as_str() {
                    "--json" => json = true,
                    a if a.starts_with('-') && a != "-" => return Err(unexpected(&command, a)),
                    _ if file.is_none() => file = Some(PathBuf::from(arg)),
                    _ => return Err(unexpected(&command, &arg)),
                }
            }
            let file = file.ok_or_else(|| Error::Usage("dt-info needs a FILE.dtb".into()))?;
            Command::DtInfo { file, json }
        }
        "bench" => Command::Bench(parse_bench(&mut args)?),
        "help" | "-h" | "--help" => Command::Help,
        other => return Err(Error::Usage(format!("unknown command `{other}`"))),
    };
    Ok(parsed)
}

/// `--flag=value` as the flag and its inline value; any other word as itself, without one.
fn split_option(arg: &str) -> (String, Option<String>) {
    match arg.split_once('=') {
        Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
        _ => (arg.to_string(), None),
    }
}

/// The value of option `name`: the inline one, else the next word.
fn option_value(inline: Option<String>, args: &mut Args, name: &str) -> Result<String> {
    match inline {
        Some(v) => Ok(v),
        None => args
            .next()
            .ok_or_else(|| Error::Usage(format!("{name} needs a value"))),
    }
}

fn parse_run(args: &mut Args) -> Result<RunOptions> {
    let mut o = RunOptions::default();
    while let Some(arg) = args.next() {
        let (flag, inline) = split_option(&arg);
        let mut value = |name: &str| option_value(inline.clone(), args, name);
        match flag.as_str() {
            "--profile" => o.profile = Some(value("--profile")?),
            "--smp" => o.smp = Some(parse_count("--smp", &value("--smp")?)?),
            "--memory" | "-m" => o.memory_mib = Some(parse_memory(&value("--memory")?)?),
            "--gic" => {
                o.gic = Some(match value("--gic")?.as_str() {
                    "2" | "v2" => Gic::V2,
                    "3" | "v3" => Gic::V3,
                    v => return Err(bad_value("--gic", v, "2 or 3")),
                })
            }
            "--cpu" => o.cpu = Some(value("--cpu")?),
            "--dtb" => o.dtb = Some(PathBuf::from(value("--dtb")?)),
            "--load-addr" => o.load_addr = Some(parse_u64("--load-addr", &value("--load-addr")?)?),
            "--timeout" => o.timeout_secs = Some(parse_u64("--timeout", &value("--timeout")?)?),
            "--el2" | "--headless" | "--uboot" | "--test-image" if inline.is_some() => {
                return Err(Error::Usage(format!("{flag} takes no value")));
            }
            "--el2" => o.el2 = true,
            "--headless" => o.headless = true,
            "--uboot" => o.uboot = true,
            "--test-image" => o.test_image = true,
            "--" => {
                o.qemu_args = args.rest();
                break;
            }
            _ => return Err(unexpected("run", &arg)),
        }
    }
    if o.uboot && (o.dtb.is_some() || o.load_addr.is_some()) {
        return Err(Error::Usage(
            "--uboot cannot be combined with --dtb or --load-addr (U-Boot chooses both)".into(),
        ));
    }
    Ok(o)
}

fn parse_bench(args: &mut Args) -> Result<BenchOptions> {
    let mut o = BenchOptions::default();
    while let Some(arg) = args.next() {
        let (flag, inline) = split_option(&arg);
        let mut value = |name: &str| option_value(inline.clone(), args, name);
        match flag.as_str() {
            "--json" => o.json = Some(PathBuf::from(value("--json")?)),
            "--timeout" => o.timeout_secs = Some(parse_u64("--timeout", &value("--timeout")?)?),
            _ => return Err(unexpected("bench", &arg)),
        }
    }
    Ok(o)
}

/// Parses a QEMU-style memory size into MiB: a number with an optional K, M, G or T suffix
/// (M when there is none, as QEMU does). The result must be a whole, non-zero number of MiB.
pub fn parse_memory(text: &str) -> Result<u64> {
    let bad = || bad_value("--memory", text, "a size such as 128M, 2G or 5G");
    let t = text.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (digits, shift_from_kib) = match t.chars().last() {
        Some('K' | 'k') => (&t[..t.len() - 1], 0),
        Some('M' | 'm') => (&t[..t.len() - 1], 10),
        Some('G' | 'g') => (&t[..t.len() - 1], 20),
        Some('T' | 't') => (&t[..t.len() - 1], 30),
        _ => (t, 10),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let kib = n
        .checked_shl(shift_from_kib)
        .filter(|k| k >> shift_from_kib == n)
        .ok_or_else(bad)?;
    if kib == 0 || kib % 1024 != 0 {
        return Err(bad());
    }
    Ok(kib / 1024)
}

/// Parses a decimal or `0x` hexadecimal number.
pub fn parse_u64(flag: &str, text: &str) -> Result<u64> {
    let t = text.replace('_', "");
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    };
    parsed.map_err(|_| bad_value(flag, text, "a number (decimal or 0x hex)"))
}

fn parse_count(flag: &str, text: &str) -> Result<u32> {
    match text.parse::<u32>() {
        Ok(n) if (1..=512).contains(&n) => Ok(n),
        _ => Err(bad_value(flag, text, "a CPU count from 1 to 512")),
    }
}

fn bad_value(flag: &str, value: &str, want: &str) -> Error {
    Error::Usage(format!("{flag} {value:?}: expected {want}"))
}

fn unexpected(command: &str, arg: &str) -> Error {
    Error::Usage(format!("`{command}` does not take `{arg}`"))
}

/// The remaining arguments.
struct Args {
    items: std::collections::VecDeque<String>,
}

impl Args {
    fn new<I: IntoIterator<Item = String>>(args: I) -> Self {
        Self {
            items: args.into_iter().collect(),
        }
    }

    #[allow(clippy::should_implement_trait)]
    fn next(&mut self) -> Option<String> {
        self.items.pop_front()
    }

    fn rest(&mut self) -> Vec<String> {
        self.items.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Command> {
        parse(line.split_whitespace().map(String::from))
    }

    fn run(line: &str) -> RunOptions {
        match p(line) {
            Ok(Command::Run(o)) => o,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn commands() {
        assert_eq!(p("").unwrap(), Command::Help);
        assert_eq!(p("help").unwrap(), Command::Help);
        assert_eq!(p("build").unwrap(), Command::Build { test_image: false });
        assert_eq!(
            p("build --test-image").unwrap(),
            Command::Build { test_image: true }
        );
        assert_eq!(
            p("image --test-image").unwrap(),
            Command::Image { test_image: true }
        );
        assert_eq!(p("test").unwrap(), Command::Test);
        assert_eq!(p("lint").unwrap(), Command::Lint);
        assert_eq!(
            p("dt-info x.dtb --json").unwrap(),
            Command::DtInfo {
                file: "x.dtb".into(),
                json: true
            }
        );
    }

    #[test]
    fn rejects_what_it_does_not_know() {
        for line in [
            "frobnicate",
            "build --fast",
            "test extra",
            "dt-info",
            "dt-info a b",
            "dt-info --yaml a",
        ] {
            assert!(matches!(p(line), Err(Error::Usage(_))), "{line}");
        }
    }

    #[test]
    fn run_options() {
        let o = run(
            "run --smp 4 --memory=2G --gic 3 --el2 --cpu cortex-a57 --headless --test-image --timeout 30",
        );
        assert_eq!(o.smp, Some(4));
        assert_eq!(o.memory_mib, Some(2048));
        assert_eq!(o.gic, Some(Gic::V3));
        assert!(o.el2 && o.headless && o.test_image && !o.uboot);
        assert_eq!(o.cpu.as_deref(), Some("cortex-a57"));
        assert_eq!(o.timeout_secs, Some(30));
        let o = run("run --dtb t.dtb --load-addr 0x4028_1000 -- -d int -S");
        assert_eq!(o.dtb, Some(PathBuf::from("t.dtb")));
        assert_eq!(o.load_addr, Some(0x4028_1000));
        assert_eq!(o.qemu_args, ["-d", "int", "-S"]);
        assert_eq!(
            run("run --profile uboot-smp2-512m").profile.as_deref(),
            Some("uboot-smp2-512m")
        );
    }

    #[test]
    fn run_rejects_bad_values() {
        for line in [
            "run --smp",
            "run --smp 0",
            "run --smp two",
            "run --gic 4",
            "run --memory 0",
            "run --memory lots",
            "run --timeout -1",
            "run --el2=yes",
            "run --uboot --dtb x.dtb",
            "run --bogus",
        ] {
            assert!(matches!(p(line), Err(Error::Usage(_))), "{line}");
        }
    }

    #[test]
    fn bench_options() {
        assert_eq!(p("bench").unwrap(), Command::Bench(BenchOptions::default()));
        assert_eq!(
            p("bench --json out/bench.json --timeout=900").unwrap(),
            Command::Bench(BenchOptions {
                json: Some("out/bench.json".into()),
                timeout_secs: Some(900),
            })
        );
        assert_eq!(
            p("bench --json=b.json").unwrap(),
            Command::Bench(BenchOptions {
                json: Some("b.json".into()),
                timeout_secs: None,
            })
        );
        for line in [
            "bench --json",
            "bench --timeout x",
            "bench --fast",
            "bench extra",
        ] {
            assert!(matches!(p(line), Err(Error::Usage(_))), "{line}");
        }
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("128M").unwrap(), 128);
        assert_eq!(parse_memory("512").unwrap(), 512);
        assert_eq!(parse_memory("5G").unwrap(), 5120);
        assert_eq!(parse_memory("1GiB").unwrap(), 1024);
        assert_eq!(parse_memory("2048K").unwrap(), 2);
        assert_eq!(parse_memory("1T").unwrap(), 1 << 20);
        for bad in [
            "",
            "M",
            "1000K",
            "0G",
            "-1G",
            "99999999999999999999G",
            "1.5G",
        ] {
            assert!(parse_memory(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64("x", "0x41600000").unwrap(), 0x4160_0000);
        assert_eq!(parse_u64("x", "60").unwrap(), 60);
        assert!(parse_u64("x", "0xzz").is_err());
    }
}
