//! `cargo xtask`: the one entry point to build, run and test Nimbus.
//!
//! Each command lives in its own module; this file only dispatches and turns an error into one
//! `error: ...` line and a non-zero exit. `cargo xtask help` lists the commands.

mod bench;
mod build;
mod cargo;
mod cli;
mod console;
mod deps;
mod devicetree;
mod dt_info;
mod error;
mod interrupt;
mod launch;
mod lint;
mod loader;
mod mbr;
mod paths;
mod profiles;
mod qemu;
mod run;
mod runner;
mod sizes;
mod test;
mod uboot;

use cli::Command;
use error::{Error, Result};
use paths::ImageKind;
use std::process::ExitCode;

fn dispatch(command: Command) -> Result<u8> {
    match command {
        Command::Build { test_image } => build::build(ImageKind::from_flag(test_image)).map(|_| 0),
        Command::Image { test_image } => {
            sizes::report(ImageKind::from_flag(test_image)).map(|()| 0)
        }
        Command::Run(options) => run::run(&options),
        Command::Test => test::run(),
        Command::DtInfo { file, json } => dt_info::run(&file, json).map(|()| 0),
        Command::Lint => lint::run().map(|()| 0),
        Command::Help => {
            println!("{}", cli::HELP);
            Ok(0)
        }
        Command::Bench(options) => bench::run(&options),
    }
}

fn main() -> ExitCode {
    interrupt::install();
    let result = cli::parse(std::env::args().skip(1)).and_then(dispatch);
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Error::Interrupted) => {
            eprintln!("error: interrupted");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(if matches!(e, Error::Usage(_)) { 2 } else { 1 })
        }
    }
}
