//! Each protocol end to end through the loopback kernel: typed client, wire, dispatch, server.

mod common;

use common::{Loopback, buffer};
use nimbus_protocol::{CallContext, Encoder, Handle, ProtocolError, RawMessage, Transport};
use nimbus_protocols::command::{Command, CommandClient, CommandServer, MAX_PAGES, Output};
use nimbus_protocols::console::{
    CommandError, Console, ConsoleClient, ConsoleServer, Level, MAX_COMMANDS, check_command_help,
    check_command_name,
};
use nimbus_protocols::init::{
    ControlError, INIT_NAME, Init, InitClient, InitServer, SERVERS_PER_PAGE, ServerInfo,
    ServerPage, ServerState, all_servers,
};

// ---------------------------------------------------------------------------------------------
// Console.

#[derive(Default)]
struct Console1 {
    lines: Vec<(u64, Level, String)>,
    commands: Vec<(u64, String, String, Handle)>,
}

impl ConsoleServer for Console1 {
    fn log(&mut self, cx: &CallContext, level: Level, text: &str) {
        self.lines.push((cx.badge, level, text.to_owned()));
    }

    fn register_command(
        &mut self,
        cx: &CallContext,
        name: &str,
        help: &str,
        endpoint: Handle,
    ) -> Result<bool, CommandError> {
        check_command_name(name)?;
        check_command_help(help)?;
        if let Some(c) = self.commands.iter_mut().find(|c| c.1 == name) {
            if c.0 != cx.badge {
                return Err(CommandError::Taken);
            }
            c.3 = endpoint;
            return Ok(false);
        }
        if self.commands.len() >= MAX_COMMANDS {
            return Err(CommandError::Full {
                max: MAX_COMMANDS as u16,
            });
        }
        self.commands
            .push((cx.badge, name.into(), help.into(), endpoint));
        Ok(true)
    }

    fn unregister_command(&mut self, cx: &CallContext, name: &str) -> Result<(), CommandError> {
        let at = self
            .commands
            .iter()
            .position(|c| c.0 == cx.badge && c.1 == name)
            .ok_or(CommandError::NotRegistered)?;
        self.commands.remove(at);
        Ok(())
    }
}

#[test]
fn console_logs_with_the_callers_badge() {
    let (lb, server) = Loopback::serving(Console1::default(), Console::dispatch);
    lb.badge.set(3);
    let client = ConsoleClient::new(&lb, Handle(1));
    let mut buf = buffer();
    client
        .log(&mut buf, Level::Warn, "disk almost full")
        .unwrap();
    client.log(&mut buf, Level::Trace, "").unwrap();
    client.log(&mut buf, Level::Info, "grüße, 世界").unwrap();
    assert_eq!(
        server.borrow().lines,
        [
            (3, Level::Warn, "disk almost full".to_owned()),
            (3, Level::Trace, String::new()),
            (3, Level::Info, "grüße, 世界".to_owned()),
        ]
    );
    // The longest line a message can carry still goes; a longer one fails before sending.
    client
        .log(&mut buf, Level::Info, &"x".repeat(4000))
        .unwrap();
    assert_eq!(
        client.log(&mut buf, Level::Info, &"x".repeat(4090)),
        Err(ProtocolError::Encode)
    );
}

#[test]
fn console_commands_belong_to_their_server() {
    let (lb, server) = Loopback::serving(Console1::default(), Console::dispatch);
    let client = ConsoleClient::new(&lb, Handle(1));
    let mut buf = buffer();
    let endpoint = lb.handle_to(77);

    lb.badge.set(2);
    let new = client
        .register_command(&mut buf, "net", "network status", endpoint)
        .unwrap()
        .unwrap();
    assert!(new, "a first registration is new");
    // The server holds its own handle to the same endpoint.
    let held = server.borrow().commands[0].3;
    assert_ne!(held, endpoint);
    assert_eq!(lb.object(held), Some(77));
    // The same server again: replaced. Another server: refused.
    let new = client
        .register_command(&mut buf, "net", "network", endpoint)
        .unwrap()
        .unwrap();
    assert!(!new, "registering again replaces");
    assert_eq!(server.borrow().commands.len(), 1);
    lb.badge.set(5);
    assert_eq!(
        client
            .register_command(&mut buf, "net", "mine", endpoint)
            .unwrap(),
        Err(CommandError::Taken)
    );
    assert_eq!(
        client.unregister_command(&mut buf, "net").unwrap(),
        Err(CommandError::NotRegistered)
    );
    assert_eq!(
        client
            .register_command(&mut buf, "Bad Name", "", endpoint)
            .unwrap(),
        Err(CommandError::BadName)
    );
    assert_eq!(
        client
            .register_command(&mut buf, "long", &"h".repeat(200), endpoint)
            .unwrap(),
        Err(CommandError::HelpTooLong { max: 96 })
    );
    lb.badge.set(2);
    client.unregister_command(&mut buf, "net").unwrap().unwrap();
    assert!(server.borrow().commands.is_empty());
    assert!(lb.rejections.borrow().is_empty());
}

#[test]
fn console_rejects_garbage_without_calling_the_server() {
    let (lb, server) = Loopback::serving(Console1::default(), Console::dispatch);
    let mut buf = buffer();
    // `log` with a level that does not exist, then with a string that is not UTF-8.
    for body in [&[9u8, 0][..], &[2, 2, 0xff, 0xfe][..]] {
        buf.data[..body.len()].copy_from_slice(body);
        let label = nimbus_protocol::label(Console::ID, Console::VERSION, 0);
        let info = nimbus_protocol::MessageInfo::new(label, body.len(), 0);
        let mut msg = RawMessage {
            info,
            words: [0; 4],
            buffer: &mut buf,
            badge: 0,
        };
        lb.call(Handle(1), &mut msg).unwrap();
        assert_eq!(
            ProtocolError::from_reply(msg.info, msg.words),
            Some(ProtocolError::Decode)
        );
    }
    assert!(server.borrow().lines.is_empty());
    // register_command without its handle.
    let mut enc = Encoder::new(&mut buf);
    enc.put("name");
    enc.put("help");
    let info = enc
        .finish(nimbus_protocol::label(Console::ID, 1, 1))
        .unwrap();
    let mut msg = RawMessage {
        info,
        words: [0; 4],
        buffer: &mut buf,
        badge: 0,
    };
    lb.call(Handle(1), &mut msg).unwrap();
    assert_eq!(
        ProtocolError::from_reply(msg.info, msg.words),
        Some(ProtocolError::Decode)
    );
    assert!(server.borrow().commands.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Command.

struct Commands {
    calls: Vec<(String, String, u16)>,
    text: String,
}

impl CommandServer for Commands {
    fn run(&mut self, _cx: &CallContext, name: &str, args: &str, page: u16) -> Output<'_> {
        self.calls.push((name.into(), args.into(), page));
        match name {
            "echo" => {
                self.text = format!("{args}\n");
                Output::text(&self.text)
            }
            "big" => Output::page(&self.text, page),
            _ => Output::text("unknown command\n"),
        }
    }
}

/// What the console does: fetch pages while `more`, up to MAX_PAGES.
fn run_all<T: Transport>(client: &CommandClient<T>, name: &str, args: &str) -> String {
    let mut buf = buffer();
    let mut all = String::new();
    for page in 0..MAX_PAGES {
        let out = client.run(&mut buf, name, args, page).unwrap();
        all.push_str(out.text);
        if !out.more {
            break;
        }
    }
    all
}

#[test]
fn commands_run_and_page_their_output() {
    let big: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    let (lb, server) = Loopback::serving(
        Commands {
            calls: Vec::new(),
            text: big.clone(),
        },
        Command::dispatch,
    );
    let client = CommandClient::new(&lb, Handle(1));
    assert_eq!(run_all(&client, "echo", "a b  c"), "a b  c\n");
    server.borrow_mut().text = big.clone();
    let got = run_all(&client, "big", "");
    assert_eq!(got, big);
    let pages: Vec<u16> = server
        .borrow()
        .calls
        .iter()
        .filter(|c| c.0 == "big")
        .map(|c| c.2)
        .collect();
    assert_eq!(
        pages,
        [0, 1, 2, 3, 4],
        "{} bytes in pages of at most 4000",
        big.len()
    );
    let mut buf = buffer();
    let out = client.run(&mut buf, "big", "", 99).unwrap();
    assert_eq!((out.text, out.more), ("", false));
}

// ---------------------------------------------------------------------------------------------
// Init.

struct Init1 {
    servers: Vec<(String, ServerState, u32)>,
}

impl Init1 {
    fn with(n: usize) -> Self {
        Self {
            servers: (0..n)
                .map(|i| (format!("server-{i}"), ServerState::Running, 0))
                .collect(),
        }
    }

    fn find(&mut self, name: &str) -> Result<&mut (String, ServerState, u32), ControlError> {
        if name == INIT_NAME {
            return Err(ControlError::Protected);
        }
        self.servers
            .iter_mut()
            .find(|s| s.0 == name)
            .ok_or(ControlError::NoSuchServer)
    }
}

impl InitServer for Init1 {
    fn servers(&mut self, _cx: &CallContext, first: u16) -> ServerPage {
        let mut page = ServerPage {
            total: self.servers.len() as u16,
            servers: heapless::Vec::new(),
        };
        for (i, s) in self.servers.iter().enumerate().skip(first.into()) {
            let info = ServerInfo {
                index: i as u16,
                name: heapless::String::try_from(s.0.as_str()).unwrap(),
                state: s.1,
                pid: (s.1 == ServerState::Running).then_some(i as u32 + 10),
                restarts: s.2,
            };
            if page.servers.push(info).is_err() {
                break;
            }
        }
        page
    }

    fn kill(&mut self, _cx: &CallContext, name: &str) -> Result<(), ControlError> {
        let s = self.find(name)?;
        if s.1 != ServerState::Running {
            return Err(ControlError::NotRunning);
        }
        s.1 = ServerState::Stopped;
        Ok(())
    }

    fn restart(&mut self, _cx: &CallContext, name: &str) -> Result<(), ControlError> {
        let s = self.find(name)?;
        s.1 = ServerState::Running;
        s.2 += 1;
        Ok(())
    }
}

#[test]
fn init_lists_servers_in_pages() {
    let (lb, _) = Loopback::serving(Init1::with(70), Init::dispatch);
    let client = InitClient::new(&lb, Handle(1));
    let mut buf = buffer();
    let first = client.servers(&mut buf, 0).unwrap();
    assert_eq!(first.total, 70);
    assert_eq!(first.servers.len(), SERVERS_PER_PAGE);
    let mut names = Vec::new();
    let total = all_servers(&client, &mut buf, |s| {
        names.push((s.index, s.name.to_string()))
    })
    .unwrap();
    assert_eq!(total, 70);
    assert_eq!(names.len(), 70);
    assert!(
        names
            .iter()
            .enumerate()
            .all(|(i, (index, name))| { *index as usize == i && *name == format!("server-{i}") })
    );
    assert!(client.servers(&mut buf, 500).unwrap().servers.is_empty());

    let (empty, _) = Loopback::serving(Init1::with(0), Init::dispatch);
    let client = InitClient::new(&empty, Handle(1));
    assert_eq!(all_servers(&client, &mut buf, |_| panic!()).unwrap(), 0);
}

#[test]
fn init_kills_and_restarts_but_not_itself() {
    let (lb, server) = Loopback::serving(Init1::with(2), Init::dispatch);
    lb.badge.set(1);
    let client = InitClient::new(&lb, Handle(1));
    let mut buf = buffer();
    assert_eq!(client.kill(&mut buf, "server-1").unwrap(), Ok(()));
    assert_eq!(
        client.kill(&mut buf, "server-1").unwrap(),
        Err(ControlError::NotRunning)
    );
    assert_eq!(
        client.kill(&mut buf, "nope").unwrap(),
        Err(ControlError::NoSuchServer)
    );
    assert_eq!(
        client.kill(&mut buf, INIT_NAME).unwrap(),
        Err(ControlError::Protected)
    );
    assert_eq!(
        client.restart(&mut buf, INIT_NAME).unwrap(),
        Err(ControlError::Protected)
    );
    assert_eq!(client.restart(&mut buf, "server-1").unwrap(), Ok(()));
    let page = client.servers(&mut buf, 0).unwrap();
    let s1 = &page.servers[1];
    assert_eq!(
        (s1.state, s1.restarts, s1.pid),
        (ServerState::Running, 1, Some(11))
    );
    assert_eq!(server.borrow().servers[1].2, 1);
}

#[test]
fn a_reply_that_lies_about_its_size_is_refused() {
    // A "server" whose reply claims a name longer than the list allows.
    let lb = Loopback::new(|msg| {
        let mut enc = Encoder::new(msg.buffer);
        enc.put(&1u16); // total
        enc.put(&1u8); // one entry
        enc.put(&0u16); // index
        enc.put("x".repeat(40).as_str()); // name: longer than MAX_SERVER_NAME
        enc.put(&0u8); // state
        enc.put(&None::<u32>); // pid
        enc.put(&0u32); // restarts
        msg.info = enc.finish(0).unwrap();
        msg.words = [0; 4];
        Ok(())
    });
    let client = InitClient::new(&lb, Handle(1));
    let mut buf = buffer();
    assert_eq!(client.servers(&mut buf, 0), Err(ProtocolError::Decode));
}
