//! Quota accounting: what a process may cause to exist.
//!
//! A creator carves a child's limits out of its own unused allowance (so the sum of everything
//! below the root task is bounded by what the root task got: the RAM of the phone), and gets them
//! back when the child dies. Inside a process, every frame, page table and kernel object is
//! charged before it is created.

/// The quota would be exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaExceeded;

/// A limit and what is used of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    limit: u64,
    used: u64,
}

impl Account {
    /// An unused account with `limit`.
    pub const fn new(limit: u64) -> Self {
        Self { limit, used: 0 }
    }

    /// Takes `amount` from the account.
    pub fn charge(&mut self, amount: u64) -> Result<(), QuotaExceeded> {
        let used = self.used.checked_add(amount).ok_or(QuotaExceeded)?;
        if used > self.limit {
            return Err(QuotaExceeded);
        }
        self.used = used;
        Ok(())
    }

    /// Returns `amount` to the account (never below zero).
    pub fn uncharge(&mut self, amount: u64) {
        self.used = self.used.saturating_sub(amount);
    }

    /// What is used.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// The limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// What is left.
    pub fn available(&self) -> u64 {
        self.limit - self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_up_to_the_limit() {
        let mut a = Account::new(100);
        a.charge(60).unwrap();
        assert_eq!(a.charge(41), Err(QuotaExceeded));
        a.charge(40).unwrap();
        assert_eq!(a.available(), 0);
        assert_eq!(a.charge(u64::MAX), Err(QuotaExceeded));
        a.uncharge(500);
        assert_eq!(a.used(), 0);
    }
}
