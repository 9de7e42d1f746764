//! The `console` endpoint: log lines from every server, and the Console protocol.
//!
//! Two kinds of message arrive: the runtime logger's raw lines (label
//! [`nimbus_rt::logger::LOG_LINE_LABEL`], sent without waiting for a reply, the line already
//! prefixed with the server's name), and [`Console`] requests. Everything a client sends is
//! untrusted: text is cut to [`MAX_LOG_LINE`] and made safe for the terminal, handles that ride
//! along where none belong are closed, and a registered command must come with an endpoint
//! handle the console can call.

use crate::Console;
use alloc::format;
use alloc::string::String;
use core::sync::atomic::Ordering;
use nimbus_abi::ipc::IPC_DATA_SIZE;
use nimbus_abi::{Handle, MessageInfo, ObjectType, Rights};
use nimbus_protocol::{CallContext, ProtocolError, RawMessage, Rejected, status};
use nimbus_protocols::console::{
    CommandError, Console as Protocol, ConsoleServer, Level, MAX_LOG_LINE,
};
use nimbus_protocols::rt::Kernel;
use nimbus_rt::logger::LOG_LINE_LABEL;
use nimbus_rt::sys;

/// Pause after the endpoint failed to receive, so a persistent failure cannot spin.
const RETRY_NS: u64 = 100_000_000;

/// Serves the console endpoint forever.
pub fn run(console: &'static Console, endpoint: Handle) {
    let mut service = Service { console };
    loop {
        let ended = nimbus_rt::thread::with_ipc_buffer(|buffer| {
            nimbus_protocol::serve(&Kernel::new(), endpoint, buffer, |msg| {
                service.dispatch(msg)
            })
        });
        match ended {
            Ok(e) => log::warn!("console endpoint: {e}"),
            Err(e) => log::error!("the service thread has no IPC buffer: {e}"),
        }
        sys::sleep(RETRY_NS);
    }
}

struct Service {
    console: &'static Console,
}

impl Service {
    fn dispatch(&mut self, msg: &mut RawMessage<'_>) -> Result<(), Rejected> {
        if msg.info.label() != LOG_LINE_LABEL {
            return Protocol::dispatch(self, msg);
        }
        let len = msg.info.len().min(IPC_DATA_SIZE);
        let text = msg.buffer.data.get(..len).unwrap_or(&[]);
        self.print(text);
        let handles = msg.info.handle_count();
        let stray = msg.buffer.handles.iter().take(handles).map(|&h| Handle(h));
        let rejected = (handles > 0).then(|| Rejected::new(ProtocolError::TooManyHandles, stray));
        // Sent, not called: there is nobody to answer, but answer sensibly if someone did call.
        msg.info = MessageInfo::label_only(status::OK);
        msg.words = [0; 4];
        rejected.map_or(Ok(()), Err)
    }

    /// Prints one log line (its own line break, if any, dropped; cut to MAX_LOG_LINE bytes).
    fn print(&self, line: &[u8]) {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = line.get(..MAX_LOG_LINE).unwrap_or(line);
        self.console.term.lock().log_line(self.console.system, line);
    }

    /// Who is calling: the server's name, or its badge while the name is not known yet.
    fn caller(&self, cx: &CallContext) -> String {
        match self.console.name_of(cx.badge) {
            Some(name) => name,
            None => {
                self.console.names_wanted.store(true, Ordering::Relaxed);
                format!("server#{}", cx.badge)
            }
        }
    }
}

/// Whether the console may call `endpoint`: an endpoint handle with the SEND right.
fn callable(endpoint: Handle) -> bool {
    matches!(
        sys::handle_info(endpoint),
        Ok((Some(ObjectType::Endpoint), rights, _)) if rights.contains(Rights::SEND)
    )
}

impl ConsoleServer for Service {
    fn log(&mut self, cx: &CallContext, level: Level, text: &str) {
        let name = self.caller(cx);
        let mut line = format!("{name}: {} ", level.label());
        for c in text.chars() {
            if line.len() + c.len_utf8() > MAX_LOG_LINE {
                break;
            }
            line.push(if c == '\n' || c == '\r' { ' ' } else { c });
        }
        self.print(line.as_bytes());
    }

    fn register_command(
        &mut self,
        cx: &CallContext,
        name: &str,
        help: &str,
        endpoint: Handle,
    ) -> Result<bool, CommandError> {
        if !callable(endpoint) {
            let _ = sys::handle_close(endpoint);
            return Err(CommandError::BadEndpoint);
        }
        let registered = self
            .console
            .commands
            .lock()
            .register(cx.badge, name, help, endpoint);
        match registered {
            Ok(replaced) => {
                let new = replaced.is_none();
                if let Some(old) = replaced {
                    let _ = sys::handle_close(old);
                }
                log::debug!("{} registered `{name}`", self.caller(cx));
                Ok(new)
            }
            Err(e) => {
                let _ = sys::handle_close(endpoint);
                Err(e)
            }
        }
    }

    fn unregister_command(&mut self, cx: &CallContext, name: &str) -> Result<(), CommandError> {
        let endpoint = self.console.commands.lock().unregister(cx.badge, name)?;
        let _ = sys::handle_close(endpoint);
        Ok(())
    }
}
