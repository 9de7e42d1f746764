//! Shell commands registered by servers.
//!
//! A registration belongs to the server that made it, named by the badge of its console handle.
//! The same server registering a name again replaces its registration (a restarted server just
//! registers again); another server's name, a built-in's name, or more than
//! [`MAX_COMMANDS`] registrations are refused. Whoever holds the registry closes the endpoint
//! handles it gives back.

use crate::shell::is_builtin;
use alloc::string::String;
use alloc::vec::Vec;
use nimbus_protocols::console::{
    CommandError, MAX_COMMANDS, check_command_help, check_command_name,
};

/// One registered command; `H` is the endpoint handle type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration<H> {
    /// What to type.
    pub name: String,
    /// One line for `help`.
    pub help: String,
    /// Badge of the registering server.
    pub owner: u64,
    /// Where to call it.
    pub endpoint: H,
}

/// Every registered command.
#[derive(Debug, Clone)]
pub struct Registry<H> {
    entries: Vec<Registration<H>>,
}

impl<H> Default for Registry<H> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<H: Copy + PartialEq> Registry<H> {
    /// No commands.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `name` for `owner`. On success returns the endpoint of the registration it
    /// replaced, if any (to close); on failure `endpoint` is still the caller's.
    pub fn register(
        &mut self,
        owner: u64,
        name: &str,
        help: &str,
        endpoint: H,
    ) -> Result<Option<H>, CommandError> {
        check_command_name(name)?;
        check_command_help(help)?;
        if is_builtin(name) {
            return Err(CommandError::Taken);
        }
        if let Some(existing) = self.entries.iter_mut().find(|e| e.name == name) {
            if existing.owner != owner {
                return Err(CommandError::Taken);
            }
            existing.help = help.into();
            return Ok(Some(core::mem::replace(&mut existing.endpoint, endpoint)));
        }
        if self.entries.len() >= MAX_COMMANDS {
            return Err(CommandError::Full {
                max: MAX_COMMANDS as u16,
            });
        }
        self.entries.push(Registration {
            name: name.into(),
            help: help.into(),
            owner,
            endpoint,
        });
        Ok(None)
    }

    /// Removes `owner`'s command `name`; returns its endpoint (to close).
    pub fn unregister(&mut self, owner: u64, name: &str) -> Result<H, CommandError> {
        let at = self
            .entries
            .iter()
            .position(|e| e.owner == owner && e.name == name)
            .ok_or(CommandError::NotRegistered)?;
        Ok(self.entries.remove(at).endpoint)
    }

    /// Removes command `name` if it still calls `endpoint` (it was not replaced meanwhile);
    /// returns whether it did.
    pub fn drop_stale(&mut self, name: &str, endpoint: H) -> bool {
        let before = self.entries.len();
        self.entries
            .retain(|e| !(e.name == name && e.endpoint == endpoint));
        self.entries.len() != before
    }

    /// The command called `name`.
    pub fn find(&self, name: &str) -> Option<&Registration<H>> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Every command, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &Registration<H>> {
        self.entries.iter()
    }

    /// How many commands there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_replaces_and_refuses() {
        let mut r = Registry::new();
        assert_eq!(r.register(2, "net", "network", 10), Ok(None));
        assert_eq!(r.register(2, "net", "network status", 11), Ok(Some(10)));
        assert_eq!(
            r.find("net").map(|e| (e.endpoint, e.help.as_str())),
            Some((11, "network status"))
        );
        assert_eq!(r.register(3, "net", "mine", 12), Err(CommandError::Taken));
        assert_eq!(r.register(3, "ps", "mine", 12), Err(CommandError::Taken));
        assert_eq!(r.register(3, "Net", "", 12), Err(CommandError::BadName));
        assert_eq!(
            r.register(3, "x", &"h".repeat(97), 12),
            Err(CommandError::HelpTooLong { max: 96 })
        );
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn unregisters_only_ones_own() {
        let mut r = Registry::new();
        r.register(2, "net", "", 10).unwrap();
        assert_eq!(r.unregister(3, "net"), Err(CommandError::NotRegistered));
        assert_eq!(r.unregister(2, "nope"), Err(CommandError::NotRegistered));
        assert_eq!(r.unregister(2, "net"), Ok(10));
        assert!(r.is_empty());
    }

    #[test]
    fn is_bounded() {
        let mut r = Registry::new();
        for i in 0..MAX_COMMANDS {
            r.register(1, &format!("c{i}"), "", i).unwrap();
        }
        assert_eq!(
            r.register(1, "one-more", "", 99),
            Err(CommandError::Full { max: 32 })
        );
        // Replacing still works when full.
        assert_eq!(r.register(1, "c0", "", 99), Ok(Some(0)));
        assert_eq!(r.iter().count(), MAX_COMMANDS);
    }

    #[test]
    fn drops_only_what_is_stale() {
        let mut r = Registry::new();
        r.register(2, "net", "", 10).unwrap();
        assert!(!r.drop_stale("net", 9));
        assert!(r.drop_stale("net", 10));
        assert!(r.find("net").is_none());
    }
}
