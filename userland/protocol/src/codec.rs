//! Writing and reading message bodies and handle slots.
//!
//! The generated code uses these; they are public so a hand-written protocol (or a test) can
//! build messages the same way.

use crate::{Handle, IpcBuffer, MessageInfo, ProtocolError};
use nimbus_abi::ipc::MAX_HANDLES;
use serde::{Deserialize, Serialize};

/// Appends postcard-encoded values to an IPC buffer's data and handles to its handle slots.
///
/// Errors are sticky rather than returned at each step, so generated code is a plain walk over
/// the value with one check at [`Encoder::finish`].
pub struct Encoder<'a> {
    buffer: &'a mut IpcBuffer,
    len: usize,
    handles: usize,
    error: Option<ProtocolError>,
}

impl<'a> Encoder<'a> {
    /// An empty message in `buffer`.
    pub fn new(buffer: &'a mut IpcBuffer) -> Self {
        Self {
            buffer,
            len: 0,
            handles: 0,
            error: None,
        }
    }

    /// Appends `value` to the body; if it does not fit, the message fails with
    /// [`ProtocolError::Encode`].
    pub fn put<T: Serialize + ?Sized>(&mut self, value: &T) {
        if self.error.is_some() {
            return;
        }
        let Some(rest) = self.buffer.data.get_mut(self.len..) else {
            self.error = Some(ProtocolError::Encode);
            return;
        };
        match postcard::to_slice(value, rest) {
            Ok(used) => self.len = self.len.saturating_add(used.len()),
            Err(_) => self.error = Some(ProtocolError::Encode),
        }
    }

    /// Puts `handle` in the next handle slot; a fifth fails the message with
    /// [`ProtocolError::TooManyHandles`].
    pub fn put_handle(&mut self, handle: Handle) {
        match self.buffer.handles.get_mut(self.handles) {
            Some(slot) => {
                *slot = handle.0;
                self.handles = self.handles.saturating_add(1);
            }
            None => {
                self.error.get_or_insert(ProtocolError::TooManyHandles);
            }
        }
    }

    /// Body bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no body bytes have been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The handles put so far (also after a failure).
    pub fn handles(&self) -> &[u32] {
        self.buffer.handles.get(..self.handles).unwrap_or(&[])
    }

    /// The descriptor of the finished message with `label`, or the first error.
    pub fn finish(self, label: u32) -> Result<MessageInfo, ProtocolError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(MessageInfo::new(label, self.len, self.handles)),
        }
    }
}

/// Reads values and handles out of a received message, in the order they were put.
///
/// Borrowed values (`&str`, `&[u8]`, structs of them) point into the buffer: no copy.
pub struct Decoder<'de> {
    data: &'de [u8],
    handles: [u32; MAX_HANDLES],
    count: usize,
    next: usize,
}

impl<'de> Decoder<'de> {
    /// A reader of the message `info` describes in `buffer`. Fails if `info` claims more data
    /// than the buffer has ([`ProtocolError::Decode`]) or more than [`MAX_HANDLES`] handles
    /// ([`ProtocolError::TooManyHandles`]).
    pub fn new(info: MessageInfo, buffer: &'de IpcBuffer) -> Result<Self, ProtocolError> {
        let count = info.handle_count();
        if count > MAX_HANDLES {
            return Err(ProtocolError::TooManyHandles);
        }
        let data = buffer.data.get(..info.len()).ok_or(ProtocolError::Decode)?;
        Ok(Self {
            data,
            handles: buffer.handles,
            count,
            next: 0,
        })
    }

    /// The next value in the body.
    pub fn get<T: Deserialize<'de>>(&mut self) -> Result<T, ProtocolError> {
        let (value, rest) =
            postcard::take_from_bytes(self.data).map_err(|_| ProtocolError::Decode)?;
        self.data = rest;
        Ok(value)
    }

    /// The tag written before a `Result` that contains handles: `true` for `Ok`.
    pub fn result_tag(&mut self) -> Result<bool, ProtocolError> {
        match self.get::<u32>()? {
            0 => Ok(true),
            1 => Ok(false),
            _ => Err(ProtocolError::Decode),
        }
    }

    /// The next handle (as installed in this process by the kernel).
    pub fn take_handle(&mut self) -> Result<Handle, ProtocolError> {
        if self.next >= self.count {
            return Err(ProtocolError::Decode);
        }
        let raw = self
            .handles
            .get(self.next)
            .copied()
            .ok_or(ProtocolError::Decode)?;
        self.next = self.next.saturating_add(1);
        Ok(Handle(raw))
    }

    /// Checks that everything was read: leftover bytes are [`ProtocolError::Decode`], leftover
    /// handles [`ProtocolError::TooManyHandles`].
    pub fn finish(&mut self) -> Result<(), ProtocolError> {
        if !self.data.is_empty() {
            return Err(ProtocolError::Decode);
        }
        if self.next < self.count {
            return Err(ProtocolError::TooManyHandles);
        }
        Ok(())
    }

    /// Every handle the message carried, read or not.
    pub fn handles(&self) -> impl Iterator<Item = Handle> + '_ {
        self.handles.iter().take(self.count).map(|&h| Handle(h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nimbus_abi::ipc::IPC_DATA_SIZE;

    fn buffer() -> Box<IpcBuffer> {
        Box::new(IpcBuffer {
            handles: [0; MAX_HANDLES],
            data: [0; IPC_DATA_SIZE],
        })
    }

    #[test]
    fn errors_are_sticky_and_handles_still_collected() {
        let mut buf = buffer();
        let mut enc = Encoder::new(&mut buf);
        enc.put(&[0u8; IPC_DATA_SIZE][..]);
        enc.put_handle(Handle(5));
        enc.put(&1u8);
        enc.put_handle(Handle(6));
        assert!(enc.is_empty());
        assert_eq!(enc.handles(), [5, 6]);
        assert_eq!(enc.finish(1), Err(ProtocolError::Encode));

        let mut enc = Encoder::new(&mut buf);
        for h in 1..=5 {
            enc.put_handle(Handle(h));
        }
        assert_eq!(enc.handles(), [1, 2, 3, 4]);
        assert_eq!(enc.finish(1), Err(ProtocolError::TooManyHandles));
    }

    #[test]
    fn values_come_back_in_order_and_borrowed() {
        let mut buf = buffer();
        let mut enc = Encoder::new(&mut buf);
        enc.put(&300u16);
        enc.put("text");
        enc.put(&[1u8, 2, 3][..]);
        enc.put_handle(Handle(9));
        let info = enc.finish(0x0001_0100).unwrap();
        assert_eq!(
            (info.label(), info.len(), info.handle_count()),
            (0x0001_0100, 2 + 5 + 4, 1)
        );

        let mut dec = Decoder::new(info, &buf).unwrap();
        assert_eq!(dec.get::<u16>(), Ok(300));
        let text: &str = dec.get().unwrap();
        assert_eq!(text, "text");
        // A serde byte sequence decodes as borrowed bytes: postcard writes both the same way.
        let bytes: &[u8] = dec.get().unwrap();
        assert_eq!(bytes, [1, 2, 3]);
        assert_eq!(dec.finish(), Err(ProtocolError::TooManyHandles));
        assert_eq!(dec.take_handle(), Ok(Handle(9)));
        assert_eq!(dec.take_handle(), Err(ProtocolError::Decode));
        assert_eq!(dec.get::<u8>(), Err(ProtocolError::Decode));
        assert_eq!(dec.finish(), Ok(()));
        assert_eq!(dec.handles().collect::<Vec<_>>(), [Handle(9)]);
    }

    #[test]
    fn descriptors_beyond_the_buffer_are_refused() {
        let buf = buffer();
        let too_long = MessageInfo(((IPC_DATA_SIZE as u64) + 1) << 32);
        assert!(matches!(
            Decoder::new(too_long, &buf),
            Err(ProtocolError::Decode)
        ));
        let too_many = MessageInfo(5 << 44);
        assert!(matches!(
            Decoder::new(too_many, &buf),
            Err(ProtocolError::TooManyHandles)
        ));
        let mut ok = Decoder::new(MessageInfo::new(0, IPC_DATA_SIZE, 4), &buf).unwrap();
        assert_eq!(ok.result_tag(), Ok(true));
    }
}
