//! The shell thread: input from the UART, kernel-log relay, and running commands.
//!
//! It sleeps on the UART's interrupt with a short timeout ([`POLL_NS`]), so kernel output is
//! relayed within a few tens of milliseconds even when nobody types. On each wake it relays the
//! kernel log, drains every byte the UART holds, acknowledges the interrupt, and feeds the bytes
//! to the line editor; a finished line runs as a command before the next byte is looked at.
//!
//! Commands that need another process (init for `servers`, `kill`, `restart`; a server for a
//! registered command) are calls with a deadline, so a stuck peer cannot freeze the shell.

use crate::Console;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use nimbus_abi::Handle;
use nimbus_abi::info::{
    CONTROL_LOG_LEVEL, INFO_KERNEL, INFO_PROCESSES, KernelRecord, ProcessRecord,
};
use nimbus_console_core::editor::Event;
use nimbus_console_core::shell::{self as parse, LOG_LEVELS, Request};
use nimbus_console_core::table;
use nimbus_protocol::{KernelError, ProtocolError};
use nimbus_protocols::command::{CommandClient, MAX_ARGS, MAX_PAGES};
use nimbus_protocols::init::{InitClient, ServerInfo, ServerState, all_servers};
use nimbus_protocols::rt::Kernel;
use nimbus_rt::sys;
use nimbus_rt::thread::with_ipc_buffer;
use zerocopy::{FromZeros, IntoBytes};

/// Notification bit the UART's interrupt sets.
pub const INPUT_BIT: u64 = 1;
/// Longest sleep between looks at the kernel log.
const POLL_NS: u64 = 20_000_000;
/// Bytes taken from the UART per wake (the rest raise the interrupt again).
const MAX_INPUT_BURST: usize = 256;
/// Deadline for init's answers.
const INIT_TIMEOUT_NS: u64 = 5_000_000_000;
/// Deadline for a name lookup made on the side (not asked for by the person typing).
const NAMES_TIMEOUT_NS: u64 = 200_000_000;
/// Deadline for each page of a registered command's output.
const COMMAND_TIMEOUT_NS: u64 = 5_000_000_000;
/// Processes `ps` can show.
const MAX_PROCESSES: usize = 256;

/// The shell.
pub struct Shell {
    console: &'static Console,
    init: Option<Handle>,
    /// The notification the UART's interrupt signals, and the interrupt.
    input: Option<(Handle, Handle)>,
}

/// Why a call to init failed, as the shell reports it.
fn init_error(e: ProtocolError) -> String {
    match e {
        ProtocolError::Ipc(KernelError::TimedOut) => "init did not answer in time".into(),
        other => format!("cannot reach init: {other}"),
    }
}

impl Shell {
    /// A shell on `console`; `init` is the handle to init's service, `input` the UART's
    /// interrupt notification and interrupt (None: poll).
    pub fn new(
        console: &'static Console,
        init: Option<Handle>,
        input: Option<(Handle, Handle)>,
    ) -> Self {
        Self {
            console,
            init,
            input,
        }
    }

    /// Runs forever.
    pub fn run(mut self) -> ! {
        self.console.term.lock().show_prompt();
        let mut bytes = Vec::with_capacity(MAX_INPUT_BURST);
        loop {
            match self.input {
                Some((notification, _)) => {
                    let _ = sys::wait(notification, POLL_NS);
                }
                None => sys::sleep(POLL_NS),
            }
            bytes.clear();
            {
                let mut term = self.console.term.lock();
                term.relay_kernel_log(self.console.system);
                term.receive(&mut bytes, MAX_INPUT_BURST);
            }
            if let Some((_, irq)) = self.input {
                let _ = sys::irq_ack(irq);
            }
            for &byte in &bytes {
                let event = self.console.term.lock().input(byte);
                if let Some(event) = event {
                    if let Event::Line(line) = event {
                        self.execute(&line);
                    }
                    self.console.term.lock().show_prompt();
                }
            }
            if self.console.names_wanted.swap(false, Ordering::Relaxed) {
                self.learn_names(NAMES_TIMEOUT_NS);
            }
        }
    }

    fn say(&self, text: &str) {
        self.console.term.lock().output(text);
    }

    /// Runs one line.
    fn execute(&mut self, line: &str) {
        let request = match parse::parse(line) {
            Ok(request) => request,
            Err(e) => return self.say(&format!("{e}\n")),
        };
        match request {
            Request::Nothing => {}
            Request::Help => self.help(),
            Request::Ps => self.ps(),
            Request::Mem => self.mem(),
            Request::Servers => self.servers(),
            Request::Kill(name) => self.kill(name),
            Request::Restart(name) => self.restart(name),
            Request::LogLevel(level) => self.log_level(level),
            Request::Uptime => self.say(&table::uptime(sys::clock_now())),
            Request::Poweroff => self.poweroff(),
            Request::Other { name, args } => self.registered(name, args),
        }
    }

    fn help(&self) {
        let commands: Vec<(String, String, u64)> = self
            .console
            .commands
            .lock()
            .iter()
            .map(|r| (r.name.clone(), r.help.clone(), r.owner))
            .collect();
        let owners: Vec<String> = commands
            .iter()
            .map(|(_, _, owner)| {
                self.console
                    .name_of(*owner)
                    .unwrap_or_else(|| format!("server#{owner}"))
            })
            .collect();
        let text = table::help(
            commands
                .iter()
                .zip(&owners)
                .map(|((name, help, _), owner)| table::Registered { name, help, owner }),
        );
        self.say(&text);
    }

    fn ps(&self) {
        let mut records = Vec::new();
        records.resize(MAX_PROCESSES, ProcessRecord::new_zeroed());
        match sys::system_info(self.console.system, INFO_PROCESSES, records.as_mut_bytes()) {
            Ok(written) => {
                records.truncate(written / core::mem::size_of::<ProcessRecord>());
                self.say(&table::ps(&records));
            }
            Err(e) => self.say(&format!("ps: the kernel refused: {e}\n")),
        }
    }

    fn mem(&self) {
        let mut record = KernelRecord::new_zeroed();
        match sys::system_info(self.console.system, INFO_KERNEL, record.as_mut_bytes()) {
            Ok(_) => self.say(&table::mem(&record)),
            Err(e) => self.say(&format!("mem: the kernel refused: {e}\n")),
        }
    }

    /// Every server init supervises (and, as a side effect, their names for the log).
    fn list_servers(&self, timeout: u64) -> Result<Vec<ServerInfo>, String> {
        let init = self
            .init
            .ok_or_else(|| String::from("this console has no handle to init"))?;
        let client = InitClient::new(Kernel::with_timeout(timeout), init);
        let mut list = Vec::new();
        with_ipc_buffer(|buf| all_servers(&client, buf, |s| list.push(s.clone())))
            .map_err(|e| format!("no IPC buffer: {e}"))?
            .map_err(init_error)?;
        let mut names = self.console.names.lock();
        names.clear();
        names.extend(
            list.iter()
                .map(|s| (u64::from(s.index) + 1, String::from(s.name.as_str()))),
        );
        Ok(list)
    }

    fn learn_names(&self, timeout: u64) {
        if self.init.is_some() && self.list_servers(timeout).is_err() {
            // Try again at the next wake that wants it.
            self.console.names_wanted.store(true, Ordering::Relaxed);
        }
    }

    fn servers(&self) {
        match self.list_servers(INIT_TIMEOUT_NS) {
            Ok(list) => self.say(&table::servers(&list)),
            Err(e) => self.say(&format!("servers: {e}\n")),
        }
    }

    fn init_client(&self, command: &str) -> Option<InitClient<Kernel>> {
        match self.init {
            Some(init) => Some(InitClient::new(Kernel::with_timeout(INIT_TIMEOUT_NS), init)),
            None => {
                self.say(&format!("{command}: this console has no handle to init\n"));
                None
            }
        }
    }

    fn kill(&self, name: &str) {
        if name == self.console.name {
            return self.say(&format!(
                "kill: {name} runs this shell; stopping it would leave no console until reboot \
                 (use `restart {name}`)\n"
            ));
        }
        let Some(client) = self.init_client("kill") else {
            return;
        };
        match with_ipc_buffer(|buf| client.kill(buf, name)) {
            Ok(Ok(Ok(()))) => self.say(&format!("stopped {name}\n")),
            Ok(Ok(Err(e))) => self.say(&format!("kill: {name}: {e}\n")),
            Ok(Err(e)) => self.say(&format!("kill: {}\n", init_error(e))),
            Err(e) => self.say(&format!("kill: no IPC buffer: {e}\n")),
        }
    }

    fn restart(&self, name: &str) {
        if name == self.console.name {
            // init stops this process while it waits for the answer; the new console takes over.
            self.say(&format!("restarting {name}: this shell ends here\n"));
        }
        let Some(client) = self.init_client("restart") else {
            return;
        };
        match with_ipc_buffer(|buf| client.restart(buf, name)) {
            Ok(Ok(Ok(()))) => self.say(&format!("restarted {name}\n")),
            Ok(Ok(Err(e))) => self.say(&format!("restart: {name}: {e}\n")),
            Ok(Err(e)) => self.say(&format!("restart: {}\n", init_error(e))),
            Err(e) => self.say(&format!("restart: no IPC buffer: {e}\n")),
        }
    }

    fn log_level(&self, level: u64) {
        let name = LOG_LEVELS.get(level as usize).copied().unwrap_or("?");
        match sys::system_control(self.console.system, CONTROL_LOG_LEVEL, level) {
            Ok(()) => self.say(&format!("kernel log level: {name}\n")),
            Err(e) => self.say(&format!("loglevel: the kernel refused: {e}\n")),
        }
    }

    fn poweroff(&self) {
        self.say("powering off\n");
        if let Err(e) = sys::shutdown(self.console.system, 0) {
            self.say(&format!("poweroff: the kernel refused: {e}\n"));
        }
    }

    /// The state of the server that owns `badge`, if init can tell.
    fn owner_state(&self, badge: u64) -> Option<ServerState> {
        let list = self.list_servers(INIT_TIMEOUT_NS).ok()?;
        let index = badge.checked_sub(1)?;
        list.iter()
            .find(|s| u64::from(s.index) == index)
            .map(|s| s.state)
    }

    /// Drops a command whose server is gone, and says so.
    fn drop_command(&self, name: &str, endpoint: Handle, why: &str) {
        if self.console.commands.lock().drop_stale(name, endpoint) {
            let _ = sys::handle_close(endpoint);
        }
        self.say(&format!("{name}: {why}; the command is removed\n"));
    }

    /// A command a server registered.
    fn registered(&self, name: &str, args: &str) {
        let found = self
            .console
            .commands
            .lock()
            .find(name)
            .map(|r| (r.endpoint, r.owner));
        let Some((endpoint, owner)) = found else {
            return self.say(&format!("{}\n", parse::unknown_command(name)));
        };
        let server = self
            .console
            .name_of(owner)
            .unwrap_or_else(|| format!("server#{owner}"));
        if let Some(state) = self
            .owner_state(owner)
            .filter(|s| *s != ServerState::Running)
        {
            let why = format!("{server}, which provides it, is {}", state.as_str());
            return self.drop_command(name, endpoint, &why);
        }
        let args = nimbus_protocols::truncate(args, MAX_ARGS);
        let client = CommandClient::new(Kernel::with_timeout(COMMAND_TIMEOUT_NS), endpoint);
        for page in 0..MAX_PAGES {
            let answer = with_ipc_buffer(|buf| match client.run(buf, name, args, page) {
                Ok(out) => {
                    self.say(out.text);
                    Ok(out.more)
                }
                Err(e) => Err(e),
            });
            match answer {
                Ok(Ok(true)) => continue,
                Ok(Ok(false)) => return,
                Ok(Err(ProtocolError::Ipc(
                    KernelError::PeerDied | KernelError::Dead | KernelError::BadHandle,
                ))) => {
                    let why = format!("{server}, which provides it, died");
                    return self.drop_command(name, endpoint, &why);
                }
                Ok(Err(ProtocolError::Ipc(KernelError::TimedOut))) => {
                    return self.say(&format!(
                        "{name}: {server} did not answer within {} s\n",
                        COMMAND_TIMEOUT_NS / 1_000_000_000
                    ));
                }
                Ok(Err(e)) => return self.say(&format!("{name}: {e}\n")),
                Err(e) => return self.say(&format!("{name}: no IPC buffer: {e}\n")),
            }
        }
        self.say(&format!("{name}: output cut after {MAX_PAGES} pages\n"));
    }
}
