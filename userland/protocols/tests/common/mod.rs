//! An in-process "kernel" for the protocol tests: a call copies the request into the server's
//! own buffer (handles become new server-side values), dispatches it, and copies the reply back
//! the same way, as the real kernel does between two processes.
#![allow(dead_code)]

use nimbus_protocol::{
    Handle, IpcBuffer, KernelError, MessageInfo, RawMessage, Rejected, Transport,
};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

pub fn buffer() -> Box<IpcBuffer> {
    Box::new(IpcBuffer {
        handles: [0; 4],
        data: [0; nimbus_abi::ipc::IPC_DATA_SIZE],
    })
}

type Dispatch = Box<dyn FnMut(&mut RawMessage<'_>) -> Result<(), Rejected>>;

pub struct Loopback {
    dispatch: RefCell<Dispatch>,
    server_buffer: RefCell<Box<IpcBuffer>>,
    /// The badge the server sees on the next calls.
    pub badge: Cell<u64>,
    /// Which object each handle names, on either side (handle values never repeat).
    objects: RefCell<HashMap<u32, u64>>,
    next_handle: Cell<u32>,
    /// Handles the client side closed.
    pub closed: RefCell<Vec<Handle>>,
    /// What dispatch rejected.
    pub rejections: RefCell<Vec<Rejected>>,
}

impl Loopback {
    pub fn new(
        dispatch: impl FnMut(&mut RawMessage<'_>) -> Result<(), Rejected> + 'static,
    ) -> Self {
        Self {
            dispatch: RefCell::new(Box::new(dispatch)),
            server_buffer: RefCell::new(buffer()),
            badge: Cell::new(0),
            objects: RefCell::new(HashMap::new()),
            next_handle: Cell::new(100),
            closed: RefCell::new(Vec::new()),
            rejections: RefCell::new(Vec::new()),
        }
    }

    /// A loopback serving `server` with `dispatch`; the server stays reachable through the Rc.
    pub fn serving<S: 'static>(
        server: S,
        dispatch: fn(&mut S, &mut RawMessage<'_>) -> Result<(), Rejected>,
    ) -> (Self, Rc<RefCell<S>>) {
        let shared = Rc::new(RefCell::new(server));
        let s = shared.clone();
        (
            Self::new(move |msg| dispatch(&mut s.borrow_mut(), msg)),
            shared,
        )
    }

    /// A new handle (on either side) naming `object`.
    pub fn handle_to(&self, object: u64) -> Handle {
        let h = self.next_handle.get();
        self.next_handle.set(h + 1);
        self.objects.borrow_mut().insert(h, object);
        Handle(h)
    }

    /// The object `h` names.
    pub fn object(&self, h: Handle) -> Option<u64> {
        self.objects.borrow().get(&h.0).copied()
    }

    fn carry(
        &self,
        info: MessageInfo,
        from: &IpcBuffer,
        to: &mut IpcBuffer,
    ) -> Result<(), KernelError> {
        if !info.is_valid() {
            return Err(KernelError::InvalidArgument);
        }
        for i in 0..info.handle_count() {
            let object = self
                .object(Handle(from.handles[i]))
                .ok_or(KernelError::BadHandle)?;
            to.handles[i] = self.handle_to(object).0;
        }
        to.data[..info.len()].copy_from_slice(&from.data[..info.len()]);
        Ok(())
    }
}

impl Transport for Loopback {
    fn call(&self, _endpoint: Handle, msg: &mut RawMessage<'_>) -> Result<(), KernelError> {
        let mut theirs = self.server_buffer.borrow_mut();
        // Stale bytes must never pass for a message.
        theirs.data.fill(0x5a);
        theirs.handles = [0xffff; 4];
        self.carry(msg.info, msg.buffer, &mut theirs)?;
        let mut request = RawMessage {
            info: msg.info,
            words: msg.words,
            buffer: &mut theirs,
            badge: self.badge.get(),
        };
        if let Err(rejected) = (self.dispatch.borrow_mut())(&mut request) {
            self.rejections.borrow_mut().push(rejected);
        }
        let (info, words) = (request.info, request.words);
        self.carry(info, &theirs, msg.buffer)?;
        msg.info = info;
        msg.words = words;
        Ok(())
    }

    fn close(&self, handle: Handle) {
        self.closed.borrow_mut().push(handle);
    }
}
