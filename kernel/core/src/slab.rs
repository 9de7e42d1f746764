//! A generational arena: kernel objects live in slabs and are named by [`Id`]s that go stale
//! when the object is removed, so a dangling reference is detected instead of reaching a newer
//! object that reused the slot.

extern crate alloc;
use alloc::vec::Vec;

/// Names an entry of a [`Slab`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id {
    index: u32,
    generation: u32,
}

impl Id {
    /// Position in the slab.
    pub const fn index(self) -> usize {
        self.index as usize
    }

    /// Packs the id into one word (e.g. for a process id shown to people).
    pub const fn to_bits(self) -> u64 {
        ((self.generation as u64) << 32) | self.index as u64
    }
}

enum Entry<T> {
    Occupied {
        generation: u32,
        value: T,
    },
    Vacant {
        generation: u32,
        next_free: Option<u32>,
    },
}

/// The kernel heap could not grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory;

/// A generational arena.
pub struct Slab<T> {
    entries: Vec<Entry<T>>,
    free_head: Option<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Slab<T> {
    /// An empty slab.
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
            free_head: None,
            len: 0,
        }
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no live entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stores `value`, failing (not panicking) if the heap cannot grow.
    pub fn insert(&mut self, value: T) -> Result<Id, OutOfMemory> {
        if let Some(index) = self.free_head {
            let slot = self.entries.get_mut(index as usize).ok_or(OutOfMemory)?;
            let Entry::Vacant {
                generation,
                next_free,
            } = *slot
            else {
                return Err(OutOfMemory);
            };
            let generation = generation.wrapping_add(1).max(1);
            *slot = Entry::Occupied { generation, value };
            self.free_head = next_free;
            self.len += 1;
            return Ok(Id { index, generation });
        }
        let index = u32::try_from(self.entries.len()).map_err(|_| OutOfMemory)?;
        self.entries.try_reserve(1).map_err(|_| OutOfMemory)?;
        self.entries.push(Entry::Occupied {
            generation: 1,
            value,
        });
        self.len += 1;
        Ok(Id {
            index,
            generation: 1,
        })
    }

    /// The entry `id` names, if it is still there.
    pub fn get(&self, id: Id) -> Option<&T> {
        match self.entries.get(id.index as usize)? {
            Entry::Occupied { generation, value } if *generation == id.generation => Some(value),
            _ => None,
        }
    }

    /// The entry `id` names, mutably.
    pub fn get_mut(&mut self, id: Id) -> Option<&mut T> {
        match self.entries.get_mut(id.index as usize)? {
            Entry::Occupied { generation, value } if *generation == id.generation => Some(value),
            _ => None,
        }
    }

    /// Whether `id` names a live entry.
    pub fn contains(&self, id: Id) -> bool {
        self.get(id).is_some()
    }

    /// Takes the entry out; `id` and every copy of it go stale.
    pub fn remove(&mut self, id: Id) -> Option<T> {
        let slot = self.entries.get_mut(id.index as usize)?;
        match slot {
            Entry::Occupied { generation, .. } if *generation == id.generation => {
                let vacant = Entry::Vacant {
                    generation: id.generation,
                    next_free: self.free_head,
                };
                let Entry::Occupied { value, .. } = core::mem::replace(slot, vacant) else {
                    return None;
                };
                self.free_head = Some(id.index);
                self.len -= 1;
                Some(value)
            }
            _ => None,
        }
    }

    /// Every live entry with its id.
    pub fn iter(&self) -> impl Iterator<Item = (Id, &T)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                Entry::Occupied { generation, value } => Some((
                    Id {
                        index: i as u32,
                        generation: *generation,
                    },
                    value,
                )),
                Entry::Vacant { .. } => None,
            })
    }

    /// Ids of every live entry.
    pub fn ids(&self) -> impl Iterator<Item = Id> + '_ {
        self.iter().map(|(id, _)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_ids_do_not_reach_new_entries() {
        let mut slab = Slab::new();
        let a = slab.insert("a").unwrap();
        let b = slab.insert("b").unwrap();
        assert_eq!(slab.remove(a), Some("a"));
        assert_eq!(slab.get(a), None);
        let c = slab.insert("c").unwrap();
        assert_eq!(c.index(), a.index(), "slot reused");
        assert_ne!(c, a);
        assert_eq!(slab.get(a), None);
        assert_eq!(slab.get(c), Some(&"c"));
        assert_eq!(slab.remove(a), None);
        assert_eq!(slab.len(), 2);
        assert_eq!(
            slab.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
            vec!["c", "b"]
        );
        assert!(slab.contains(b));
    }

    #[test]
    fn churn_keeps_counts() {
        let mut slab = Slab::new();
        let mut live = Vec::new();
        for round in 0..1000u32 {
            live.push(slab.insert(round).unwrap());
            if round % 3 == 0 {
                let id = live.remove(0);
                assert!(slab.remove(id).is_some());
            }
        }
        assert_eq!(slab.len(), live.len());
        for id in live {
            assert!(slab.remove(id).is_some());
        }
        assert!(slab.is_empty());
    }
}
