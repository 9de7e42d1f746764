//! Reading a shell line: which built-in command it is, with checked arguments, or the name and
//! arguments of a command some server registered.
//!
//! Every mistake gets one line that says what is wrong and points at `help`.

use alloc::format;
use alloc::string::String;

/// A built-in command: its name, usage and one line of help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    /// What to type.
    pub name: &'static str,
    /// How to call it.
    pub usage: &'static str,
    /// What it does.
    pub help: &'static str,
}

/// The built-in commands, in the order `help` lists them.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "help",
        usage: "help",
        help: "list the commands",
    },
    Builtin {
        name: "ps",
        usage: "ps",
        help: "processes: pid, state, threads, handles, memory",
    },
    Builtin {
        name: "mem",
        usage: "mem",
        help: "kernel memory, objects, threads, CPUs",
    },
    Builtin {
        name: "servers",
        usage: "servers",
        help: "servers init supervises, their state and restarts",
    },
    Builtin {
        name: "kill",
        usage: "kill <server>",
        help: "stop a server and leave it stopped",
    },
    Builtin {
        name: "restart",
        usage: "restart <server>",
        help: "stop a server and start it again",
    },
    Builtin {
        name: "loglevel",
        usage: "loglevel <level>",
        help: "set the kernel's log level: off, error, warn, info, debug, trace",
    },
    Builtin {
        name: "uptime",
        usage: "uptime",
        help: "time since boot",
    },
    Builtin {
        name: "poweroff",
        usage: "poweroff",
        help: "turn the machine off",
    },
];

/// Whether `name` is a built-in command (servers may not register these names).
pub fn is_builtin(name: &str) -> bool {
    BUILTINS.iter().any(|b| b.name == name)
}

/// The kernel's log levels, as `CONTROL_LOG_LEVEL` numbers them.
pub const LOG_LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];

/// What a line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// Nothing (an empty line).
    Nothing,
    /// `help`.
    Help,
    /// `ps`.
    Ps,
    /// `mem`.
    Mem,
    /// `servers`.
    Servers,
    /// `kill <server>`.
    Kill(&'a str),
    /// `restart <server>`.
    Restart(&'a str),
    /// `loglevel <level>`: the `CONTROL_LOG_LEVEL` argument (0 = off .. 5 = trace).
    LogLevel(u64),
    /// `uptime`.
    Uptime,
    /// `poweroff`.
    Poweroff,
    /// Anything else: perhaps a command a server registered.
    Other {
        /// The first word.
        name: &'a str,
        /// The rest of the line, blanks around it removed.
        args: &'a str,
    },
}

/// A line that names a built-in but gets its arguments wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    /// The command.
    pub command: &'static str,
    /// What is wrong.
    pub problem: String,
}

impl core::fmt::Display for UsageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let usage = BUILTINS
            .iter()
            .find(|b| b.name == self.command)
            .map_or(self.command, |b| b.usage);
        write!(
            f,
            "{}: {}; usage: {usage} (see `help`)",
            self.command, self.problem
        )
    }
}

/// The line for a command nobody provides.
pub fn unknown_command(name: &str) -> String {
    format!("unknown command `{name}`; type `help` for the list of commands")
}

fn usage(command: &'static str, problem: impl Into<String>) -> UsageError {
    UsageError {
        command,
        problem: problem.into(),
    }
}

/// Reads one line.
pub fn parse(line: &str) -> Result<Request<'_>, UsageError> {
    let line = line.trim();
    let (name, args) = match line.split_once(char::is_whitespace) {
        Some((name, args)) => (name, args.trim()),
        None => (line, ""),
    };
    let words = || args.split_whitespace();
    let none = |command: &'static str, request: Request<'static>| {
        if args.is_empty() {
            Ok(request)
        } else {
            Err(usage(command, "takes no arguments"))
        }
    };
    let one = |command: &'static str, what: &str| match (words().next(), words().count()) {
        (Some(word), 1) => Ok(word),
        (None, _) => Err(usage(command, format!("missing the {what}"))),
        (Some(_), n) => Err(usage(command, format!("expected one {what}, got {n}"))),
    };
    Ok(match name {
        "" => Request::Nothing,
        "help" => none("help", Request::Help)?,
        "ps" => none("ps", Request::Ps)?,
        "mem" => none("mem", Request::Mem)?,
        "servers" => none("servers", Request::Servers)?,
        "uptime" => none("uptime", Request::Uptime)?,
        "poweroff" => none("poweroff", Request::Poweroff)?,
        "kill" => Request::Kill(one("kill", "server name")?),
        "restart" => Request::Restart(one("restart", "server name")?),
        "loglevel" => {
            let level = one("loglevel", "level")?;
            let index = LOG_LEVELS
                .iter()
                .position(|l| l.eq_ignore_ascii_case(level))
                .ok_or_else(|| {
                    let all = LOG_LEVELS.join(", ");
                    usage("loglevel", format!("no level `{level}` (one of {all})"))
                })?;
            Request::LogLevel(index as u64)
        }
        name => Request::Other { name, args },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins() {
        assert_eq!(parse(""), Ok(Request::Nothing));
        assert_eq!(parse("   "), Ok(Request::Nothing));
        assert_eq!(parse("ps"), Ok(Request::Ps));
        assert_eq!(parse("  mem  "), Ok(Request::Mem));
        assert_eq!(parse("help"), Ok(Request::Help));
        assert_eq!(parse("servers"), Ok(Request::Servers));
        assert_eq!(parse("uptime"), Ok(Request::Uptime));
        assert_eq!(parse("poweroff"), Ok(Request::Poweroff));
        assert_eq!(parse("kill  net "), Ok(Request::Kill("net")));
        assert_eq!(parse("restart\tconsole"), Ok(Request::Restart("console")));
        assert_eq!(parse("loglevel debug"), Ok(Request::LogLevel(4)));
        assert_eq!(parse("loglevel OFF"), Ok(Request::LogLevel(0)));
        assert_eq!(parse("loglevel trace"), Ok(Request::LogLevel(5)));
    }

    #[test]
    fn other_commands_keep_their_arguments() {
        assert_eq!(
            parse("net  status   --all "),
            Ok(Request::Other {
                name: "net",
                args: "status   --all"
            })
        );
        assert_eq!(
            parse("Ps"),
            Ok(Request::Other {
                name: "Ps",
                args: ""
            })
        );
    }

    #[test]
    fn mistakes_say_what_is_wrong_and_point_at_help() {
        let e = parse("kill").unwrap_err();
        assert_eq!(
            e.to_string(),
            "kill: missing the server name; usage: kill <server> (see `help`)"
        );
        let e = parse("kill a b").unwrap_err();
        assert_eq!(e.problem, "expected one server name, got 2");
        let e = parse("ps aux").unwrap_err();
        assert_eq!(
            e.to_string(),
            "ps: takes no arguments; usage: ps (see `help`)"
        );
        let e = parse("loglevel loud").unwrap_err();
        assert_eq!(
            e.to_string(),
            "loglevel: no level `loud` (one of off, error, warn, info, debug, trace); usage: loglevel <level> (see `help`)"
        );
        assert!(parse("loglevel").is_err());
        assert_eq!(
            unknown_command("frob"),
            "unknown command `frob`; type `help` for the list of commands"
        );
    }

    #[test]
    fn built_in_names_are_reserved() {
        assert!(is_builtin("ps") && is_builtin("poweroff"));
        assert!(!is_builtin("net"));
        assert_eq!(LOG_LEVELS.len(), 6);
    }
}
