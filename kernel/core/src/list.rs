//! Intrusive FIFO lists of object ids, and the priority run queue built from them.
//!
//! A thread waits in at most one queue at a time (a run queue, an endpoint, a notification), so
//! one [`Link`] inside each thread is enough and blocking or waking never allocates. Each list
//! has a tag and each link records the tag of the list holding it, so removing an id from a list
//! it is not on is refused instead of corrupting both lists.

/// A list membership, stored inside the listed object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Link<Id> {
    next: Option<Id>,
    prev: Option<Id>,
    tag: Option<u64>,
}

impl<Id> Link<Id> {
    /// Not on any list.
    pub const fn new() -> Self {
        Self {
            next: None,
            prev: None,
            tag: None,
        }
    }

    /// The tag of the list holding this object, if any.
    pub fn list_tag(&self) -> Option<u64> {
        self.tag
    }

    /// The next object on the same list.
    pub fn next(&self) -> Option<Id>
    where
        Id: Copy,
    {
        self.next
    }
}

/// Gives lists access to the links stored in objects.
pub trait Links<Id> {
    /// The link of object `id` (None if `id` is stale).
    fn link(&mut self, id: Id) -> Option<&mut Link<Id>>;
}

/// A FIFO of ids.
#[derive(Debug, Clone, Copy)]
pub struct List<Id> {
    head: Option<Id>,
    tail: Option<Id>,
    len: usize,
    tag: u64,
}

impl<Id: Copy + Eq> List<Id> {
    /// An empty list; `tag` must differ from every other live list's.
    pub const fn new(tag: u64) -> Self {
        Self {
            head: None,
            tail: None,
            len: 0,
            tag,
        }
    }

    /// Entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first id.
    pub fn front(&self) -> Option<Id> {
        self.head
    }

    /// This list's tag.
    pub fn tag(&self) -> u64 {
        self.tag
    }

    /// Appends `id`; false if it is stale or already on a list.
    pub fn push_back(&mut self, links: &mut impl Links<Id>, id: Id) -> bool {
        let tail = self.tail;
        let Some(link) = links.link(id) else {
            return false;
        };
        if link.tag.is_some() {
            return false;
        }
        *link = Link {
            next: None,
            prev: tail,
            tag: Some(self.tag),
        };
        match tail.and_then(|t| links.link(t)) {
            Some(tail_link) => tail_link.next = Some(id),
            None => self.head = Some(id),
        }
        self.tail = Some(id);
        self.len += 1;
        true
    }

    /// Inserts `id` just before `before` (which must be on this list), or at the end if `before`
    /// is `None`; false if `id` is stale or already listed, or `before` is not on this list.
    pub fn insert_before(
        &mut self,
        links: &mut impl Links<Id>,
        before: Option<Id>,
        id: Id,
    ) -> bool {
        let Some(before) = before else {
            return self.push_back(links, id);
        };
        let Some(prev) = links
            .link(before)
            .filter(|l| l.tag == Some(self.tag))
            .map(|l| l.prev)
        else {
            return false;
        };
        let Some(link) = links.link(id) else {
            return false;
        };
        if link.tag.is_some() {
            return false;
        }
        *link = Link {
            next: Some(before),
            prev,
            tag: Some(self.tag),
        };
        if let Some(b) = links.link(before) {
            b.prev = Some(id);
        }
        match prev.and_then(|p| links.link(p)) {
            Some(p) => p.next = Some(id),
            None => self.head = Some(id),
        }
        self.len += 1;
        true
    }

    /// Removes and returns the first id.
    pub fn pop_front(&mut self, links: &mut impl Links<Id>) -> Option<Id> {
        let head = self.head?;
        self.remove(links, head).then_some(head)
    }

    /// Removes `id` if it is on this list.
    pub fn remove(&mut self, links: &mut impl Links<Id>, id: Id) -> bool {
        let Some(link) = links.link(id) else {
            return false;
        };
        if link.tag != Some(self.tag) {
            return false;
        }
        let (prev, next) = (link.prev, link.next);
        *link = Link::new();
        match prev.and_then(|p| links.link(p)) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match next.and_then(|n| links.link(n)) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
        self.len -= 1;
        true
    }

    /// Whether `id` is on this list.
    pub fn contains(&self, links: &mut impl Links<Id>, id: Id) -> bool {
        links.link(id).is_some_and(|l| l.tag == Some(self.tag))
    }
}

/// Number of thread priorities (0 lowest).
pub const PRIORITIES: usize = 32;

/// Ready threads of one CPU, by priority: highest first, FIFO within a priority.
#[derive(Debug)]
pub struct RunQueue<Id> {
    levels: [List<Id>; PRIORITIES],
    nonempty: u32,
}

impl<Id: Copy + Eq> RunQueue<Id> {
    /// An empty queue; tags `base .. base + PRIORITIES` are used.
    pub fn new(base_tag: u64) -> Self {
        Self {
            levels: core::array::from_fn(|p| List::new(base_tag + p as u64)),
            nonempty: 0,
        }
    }

    /// Threads queued.
    pub fn len(&self) -> usize {
        self.levels.iter().map(List::len).sum()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.nonempty == 0
    }

    /// Highest priority with a queued thread.
    pub fn highest(&self) -> Option<u8> {
        (self.nonempty != 0).then(|| 31 - self.nonempty.leading_zeros() as u8)
    }

    /// Queues `id` at `priority` (clamped) behind its equals.
    pub fn push(&mut self, links: &mut impl Links<Id>, id: Id, priority: u8) -> bool {
        let p = usize::from(priority).min(PRIORITIES - 1);
        let pushed = self.levels[p].push_back(links, id);
        if pushed {
            self.nonempty |= 1 << p;
        }
        pushed
    }

    /// Takes the first thread of the highest priority.
    pub fn pop(&mut self, links: &mut impl Links<Id>) -> Option<Id> {
        let p = usize::from(self.highest()?);
        let id = self.levels[p].pop_front(links);
        if self.levels[p].is_empty() {
            self.nonempty &= !(1 << p);
        }
        id
    }

    /// Removes `id` (queued at `priority`).
    pub fn remove(&mut self, links: &mut impl Links<Id>, id: Id, priority: u8) -> bool {
        let p = usize::from(priority).min(PRIORITIES - 1);
        let removed = self.levels[p].remove(links, id);
        if self.levels[p].is_empty() {
            self.nonempty &= !(1 << p);
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Store(Vec<Link<usize>>);

    impl Links<usize> for Store {
        fn link(&mut self, id: usize) -> Option<&mut Link<usize>> {
            self.0.get_mut(id)
        }
    }

    fn store(n: usize) -> Store {
        Store(vec![Link::new(); n])
    }

    #[test]
    fn fifo_order_and_removal_in_the_middle() {
        let mut s = store(5);
        let mut list = List::new(1);
        for id in 0..5 {
            assert!(list.push_back(&mut s, id));
        }
        assert!(!list.push_back(&mut s, 2), "pushed twice");
        assert!(list.remove(&mut s, 2));
        assert!(!list.remove(&mut s, 2));
        assert_eq!(list.len(), 4);
        let order: Vec<_> = core::iter::from_fn(|| list.pop_front(&mut s)).collect();
        assert_eq!(order, vec![0, 1, 3, 4]);
        assert!(list.is_empty());
        assert!(!list.push_back(&mut s, 99), "stale id accepted");
    }

    #[test]
    fn inserts_before_any_position() {
        let mut s = store(4);
        let mut list = List::new(1);
        list.push_back(&mut s, 1);
        list.push_back(&mut s, 3);
        assert!(list.insert_before(&mut s, Some(1), 0));
        assert!(list.insert_before(&mut s, Some(3), 2));
        assert!(!list.insert_before(&mut s, Some(3), 2));
        let mut order = Vec::new();
        let mut cursor = list.front();
        while let Some(id) = cursor {
            order.push(id);
            cursor = s.link(id).and_then(|l| l.next());
        }
        assert_eq!(order, vec![0, 1, 2, 3]);
        assert_eq!(list.len(), 4);
    }

    #[test]
    fn removing_from_the_wrong_list_is_refused() {
        let mut s = store(2);
        let mut a = List::new(1);
        let mut b = List::new(2);
        a.push_back(&mut s, 0);
        b.push_back(&mut s, 1);
        assert!(!b.remove(&mut s, 0));
        assert!(!b.push_back(&mut s, 0), "an id joined two lists");
        assert_eq!((a.len(), b.len()), (1, 1));
        assert!(a.contains(&mut s, 0) && !b.contains(&mut s, 0));
    }

    #[test]
    fn run_queue_prefers_high_priority_then_fifo() {
        let mut s = store(6);
        let mut rq = RunQueue::new(100);
        rq.push(&mut s, 0, 1);
        rq.push(&mut s, 1, 20);
        rq.push(&mut s, 2, 1);
        rq.push(&mut s, 3, 20);
        rq.push(&mut s, 4, 31);
        rq.push(&mut s, 5, 200);
        assert_eq!(rq.highest(), Some(31));
        assert!(rq.remove(&mut s, 5, 200));
        let order: Vec<_> = core::iter::from_fn(|| rq.pop(&mut s)).collect();
        assert_eq!(order, vec![4, 1, 3, 0, 2]);
        assert!(rq.is_empty());
        assert_eq!(rq.highest(), None);
    }
}
