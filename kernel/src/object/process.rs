//! Processes: an address space, a handle table, threads, and the quota they are charged to.

use super::{HANDLE_COST, Kernel, ObjectRef};
use crate::arch::aarch64::user;
use crate::mm::{frames, phys_to_virt};
use alloc::vec::Vec;
use nimbus_abi::fault::{ExitKind, FaultKind};
use nimbus_abi::ipc::{EXIT_LABEL, FAULT_LABEL};
use nimbus_abi::{Error, Quota};
use nimbus_kcore::handles::{HandleEntry, HandleError, HandleTable};
use nimbus_kcore::pagetable::{ENTRIES, PageFlags, PageTable, TableMemory};
use nimbus_kcore::quota::Account;
use nimbus_kcore::slab::Id;

/// Bytes charged to the creator for the process object itself, besides the child's quota.
pub const PROCESS_COST: u64 = 4096;
/// Smallest memory quota a process can be given.
pub const MIN_PROCESS_MEMORY: u64 = 16 * 1024;

/// Life state of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcState {
    /// Running (or not yet started).
    Running,
    /// Stopped by a fault; its supervisor decides what happens next.
    Faulted,
    /// Exited or killed.
    Exited,
}

/// One mapped range of an address space.
#[derive(Debug, Clone, Copy)]
pub struct Mapping {
    /// First user address.
    pub va: u64,
    /// Bytes (page multiple).
    pub len: u64,
    /// The memory object or MMIO region mapped.
    pub target: ObjectRef,
}

/// A user address space.
pub struct AddressSpace {
    /// Its page tables.
    pub table: PageTable,
    /// Its ASID.
    pub asid: u16,
    /// Its mappings.
    pub mappings: Vec<Mapping>,
}

/// A process.
pub struct Process {
    /// For people (ps, fault reports).
    pub name: heapless::String<32>,
    /// Life state.
    pub state: ProcState,
    /// Exit code once exited.
    pub exit_code: u64,
    /// Its handles.
    pub handles: HandleTable<ObjectRef>,
    /// Its address space (gone after teardown).
    pub space: Option<AddressSpace>,
    /// Its live threads.
    pub threads: Vec<Id>,
    /// Memory quota and use.
    pub memory: Account,
    /// Most threads at once.
    pub max_threads: u32,
    /// Highest priority its threads may have.
    pub max_priority: u8,
    /// Who created it (its reservation returns there).
    pub parent: Option<Id>,
    /// Bytes reserved from the parent's account.
    pub reservation: u64,
    /// Where faults and exits are reported: endpoint and badge.
    pub supervisor: Option<(Id, u64)>,
    /// Handles naming this process.
    pub refs: u32,
    /// CPUs with this address space in TTBR0.
    pub active_cpus: u32,
    /// Teardown waits for `active_cpus` to drain.
    pub teardown_pending: bool,
}

/// Table pages for one process, charged to its account and reached through the linear map.
pub struct ChargedTables<'a> {
    /// The account charged.
    pub account: &'a mut Account,
}

const TABLE_BYTES: u64 = 4096;

impl TableMemory for ChargedTables<'_> {
    fn alloc_table(&mut self) -> Option<u64> {
        self.account.charge(TABLE_BYTES).ok()?;
        let pa = frames::alloc_zeroed();
        if pa.is_none() {
            self.account.uncharge(TABLE_BYTES);
        }
        pa
    }

    fn free_table(&mut self, pa: u64) {
        frames::free(pa);
        self.account.uncharge(TABLE_BYTES);
    }

    fn table(&mut self, pa: u64) -> &mut [u64; ENTRIES] {
        // SAFETY: the page-table code passes only physical addresses of table pages it
        // allocated through `alloc_table`, which are RAM in the linear map, exclusively owned by
        // this address space, and aligned.
        unsafe { &mut *(phys_to_virt(pa) as *mut [u64; ENTRIES]) }
    }
}

/// A kernel-generated message waiting on a supervisor's endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Notice {
    /// The badge the supervisor gave the process.
    pub badge: u64,
    /// FAULT_LABEL or EXIT_LABEL.
    pub label: u32,
    /// The details.
    pub words: [u64; 4],
}

impl Kernel {
    /// Creates an empty process whose limits come out of `creator`'s (the root task has none).
    pub fn create_process(
        &mut self,
        creator: Option<Id>,
        name: &str,
        quota: &Quota,
        supervisor: Option<(Id, u64)>,
    ) -> Result<Id, Error> {
        if quota.reserved != 0
            || quota.threads == 0
            || quota.handles == 0
            || quota.memory_bytes < MIN_PROCESS_MEMORY
        {
            return Err(Error::InvalidArgument);
        }
        let max_priority = u8::try_from(quota.max_priority).map_err(|_| Error::InvalidArgument)?;
        if u64::from(max_priority) > nimbus_abi::object::MAX_PRIORITY {
            return Err(Error::InvalidArgument);
        }
        let cost = quota
            .memory_bytes
            .checked_add(PROCESS_COST)
            .ok_or(Error::InvalidArgument)?;
        if let Some(creator) = creator {
            let c = self.processes.get_mut(creator).ok_or(Error::Dead)?;
            if max_priority > c.max_priority
                || quota.threads > c.max_threads
                || quota.handles as usize > c.handles.limit()
            {
                return Err(Error::AccessDenied);
            }
            c.memory.charge(cost).map_err(|_| Error::QuotaExceeded)?;
        }
        let result =
            self.create_process_charged(creator, name, quota, max_priority, supervisor, cost);
        if result.is_err()
            && let Some(c) = creator.and_then(|c| self.processes.get_mut(c))
        {
            c.memory.uncharge(cost);
        }
        result
    }

    fn create_process_charged(
        &mut self,
        creator: Option<Id>,
        name: &str,
        quota: &Quota,
        max_priority: u8,
        supervisor: Option<(Id, u64)>,
        cost: u64,
    ) -> Result<Id, Error> {
        if let Some((endpoint, _)) = supervisor {
            let ep = self.endpoints.get_mut(endpoint).ok_or(Error::Dead)?;
            ep.notices
                .try_reserve(ep.notice_slots + 1)
                .map_err(|_| Error::OutOfMemory)?;
        }
        let asid = self.asids.alloc().ok_or(Error::OutOfMemory)?;
        let mut memory = Account::new(quota.memory_bytes);
        let Some(table) = PageTable::new(&mut ChargedTables {
            account: &mut memory,
        }) else {
            self.asids.free(asid);
            return Err(Error::OutOfMemory);
        };
        let mut short_name = heapless::String::new();
        for c in name.chars().take(32) {
            if short_name.push(c).is_err() {
                break;
            }
        }
        let process = Process {
            name: short_name,
            state: ProcState::Running,
            exit_code: 0,
            handles: HandleTable::new(quota.handles as usize),
            space: Some(AddressSpace {
                table,
                asid,
                mappings: Vec::new(),
            }),
            threads: Vec::new(),
            memory,
            max_threads: quota.threads,
            max_priority,
            parent: creator,
            reservation: if creator.is_some() { cost } else { 0 },
            supervisor,
            refs: 0,
            active_cpus: 0,
            teardown_pending: false,
        };
        match self.processes.insert(process) {
            Ok(id) => {
                if let Some((endpoint, _)) = supervisor {
                    self.retain(ObjectRef::Endpoint(endpoint));
                    if let Some(ep) = self.endpoints.get_mut(endpoint) {
                        ep.notice_slots += 1;
                    }
                }
                Ok(id)
            }
            Err(_) => {
                self.asids.free(asid);
                Err(Error::OutOfMemory)
            }
        }
    }

    /// Adds a handle to `process`'s table, charging it.
    pub fn install_handle(
        &mut self,
        process: Id,
        entry: HandleEntry<ObjectRef>,
    ) -> Result<u32, Error> {
        let p = self.processes.get_mut(process).ok_or(Error::Dead)?;
        if p.state == ProcState::Exited {
            return Err(Error::Dead);
        }
        p.memory
            .charge(HANDLE_COST)
            .map_err(|_| Error::QuotaExceeded)?;
        match p.handles.insert(entry) {
            Ok(handle) => {
                self.retain(entry.object);
                Ok(handle)
            }
            Err(e) => {
                p.memory.uncharge(HANDLE_COST);
                Err(match e {
                    HandleError::QuotaExceeded => Error::QuotaExceeded,
                    HandleError::OutOfMemory => Error::OutOfMemory,
                })
            }
        }
    }

    /// Closes a handle of `process`.
    pub fn close_handle(&mut self, process: Id, handle: u32) -> Result<(), Error> {
        let p = self.processes.get_mut(process).ok_or(Error::Dead)?;
        let entry = p.handles.remove(handle).ok_or(Error::BadHandle)?;
        p.memory.uncharge(HANDLE_COST);
        self.release(entry.object);
        Ok(())
    }

    /// Queues a kernel message for a supervisor (or hands it to a waiting receiver).
    pub fn post_notice(&mut self, endpoint: Id, notice: Notice) {
        if let Some(receiver) = self
            .endpoints
            .get(endpoint)
            .and_then(|e| e.receivers.front())
        {
            self.deliver_notice(receiver, notice);
            return;
        }
        if let Some(ep) = self.endpoints.get_mut(endpoint) {
            // Capacity for one notice per supervised process was reserved at its creation.
            if ep.notices.len() < ep.notices.capacity() {
                ep.notices.push_back(notice);
            }
        }
    }

    /// Stops a faulted process and tells its supervisor what happened and where.
    pub fn fault_process(&mut self, process: Id, kind: FaultKind, address: u64, pc: u64, esr: u64) {
        let Some(p) = self.processes.get_mut(process) else {
            return;
        };
        if p.state != ProcState::Running {
            return;
        }
        p.state = ProcState::Faulted;
        let supervisor = p.supervisor;
        let count = p.threads.len();
        for i in 0..count {
            if let Some(thread) = self
                .processes
                .get(process)
                .and_then(|p| p.threads.get(i))
                .copied()
            {
                self.stop_thread(thread);
            }
        }
        if let Some((endpoint, badge)) = supervisor {
            self.post_notice(
                endpoint,
                Notice {
                    badge,
                    label: FAULT_LABEL,
                    words: [kind as u64, address, pc, esr],
                },
            );
        }
    }

    fn stop_thread(&mut self, thread: Id) {
        let Some(t) = self.threads.get(thread) else {
            return;
        };
        let (running, cpu) = (t.state == super::thread::ThreadState::Running, t.cpu);
        if t.state == super::thread::ThreadState::Dead {
            return;
        }
        self.unblock_silently(thread);
        if let Some(t) = self.threads.get_mut(thread) {
            t.state = super::thread::ThreadState::Blocked(super::thread::Block::Stopped);
        }
        if running {
            self.sched.request_reschedule(cpu);
        }
    }

    /// Ends a process: threads killed, handles closed, address space torn down (once no CPU uses
    /// it), its reservation returned to its parent. `notify` tells the supervisor (for exits the
    /// supervisor did not cause).
    pub fn terminate_process(&mut self, process: Id, code: u64, kind: ExitKind, notify: bool) {
        let Some(p) = self.processes.get_mut(process) else {
            return;
        };
        if p.state == ProcState::Exited {
            return;
        }
        p.state = ProcState::Exited;
        p.exit_code = code;
        let threads = core::mem::take(&mut p.threads);
        let supervisor = p.supervisor.take();
        let entries = p.handles.drain();
        let handle_charge = entries.len() as u64 * HANDLE_COST;
        p.memory.uncharge(handle_charge);
        for thread in threads {
            // The list is already taken; kill_thread still unblocks, wakes callers, uncharges.
            self.kill_thread(thread);
        }
        for entry in entries {
            self.release(entry.object);
        }
        if let Some((endpoint, badge)) = supervisor {
            if notify {
                self.post_notice(
                    endpoint,
                    Notice {
                        badge,
                        label: EXIT_LABEL,
                        words: [code, kind as u64, 0, 0],
                    },
                );
            }
            if let Some(ep) = self.endpoints.get_mut(endpoint) {
                ep.notice_slots = ep.notice_slots.saturating_sub(1);
            }
            self.release(ObjectRef::Endpoint(endpoint));
        }
        self.try_finish_teardown(process);
        let (parent, reservation) = match self.processes.get(process) {
            Some(p) => (p.parent, p.reservation),
            None => (None, 0),
        };
        if let Some(parent) = parent.and_then(|id| self.processes.get_mut(id)) {
            parent.memory.uncharge(reservation);
        }
        if let Some(p) = self.processes.get_mut(process) {
            p.reservation = 0;
        }
        self.reap_process(process);
    }

    /// Frees the address space of an exited process once no CPU has it loaded.
    pub fn try_finish_teardown(&mut self, process: Id) {
        let Some(p) = self.processes.get_mut(process) else {
            return;
        };
        if p.state != ProcState::Exited {
            return;
        }
        if p.active_cpus != 0 {
            p.teardown_pending = true;
            return;
        }
        p.teardown_pending = false;
        let Some(space) = p.space.take() else { return };
        let mut mappings = space.mappings;
        for mapping in mappings.drain(..) {
            self.release(mapping.target);
        }
        let Some(p) = self.processes.get_mut(process) else {
            return;
        };
        space.table.destroy(&mut ChargedTables {
            account: &mut p.memory,
        });
        user::flush_asid(space.asid);
        self.asids.free(space.asid);
        self.reap_process(process);
    }

    /// Frees an exited process's object once no handle names it and teardown is done.
    pub fn reap_process(&mut self, process: Id) {
        let Some(p) = self.processes.get(process) else {
            return;
        };
        if p.state == ProcState::Exited && p.refs == 0 && p.space.is_none() && !p.teardown_pending {
            self.processes.remove(process);
        }
    }

    /// The last handle to a process was closed. A running process keeps running (it is its own
    /// reason to exist) unless it never can run; an exited one is freed.
    pub(super) fn process_unreferenced(&mut self, process: Id) {
        self.end_if_unreachable(process);
        self.reap_process(process);
    }

    /// Ends a process that can never run: none of its threads was ever started, and no handle
    /// outside its own table names it or any of its threads, so nobody can start one. Without
    /// this a parent that drops a half-built child would leak everything charged to the child.
    pub(super) fn end_if_unreachable(&mut self, process: Id) {
        let Some(p) = self.processes.get(process) else {
            return;
        };
        if p.state != ProcState::Running {
            return;
        }
        let held_by_itself = |object: ObjectRef| {
            p.handles
                .iter()
                .filter(|(_, entry)| entry.object == object)
                .count() as u64
        };
        if u64::from(p.refs) > held_by_itself(ObjectRef::Process(process)) {
            return;
        }
        for &thread in &p.threads {
            let Some(t) = self.threads.get(thread) else {
                continue;
            };
            if t.state != super::thread::ThreadState::Created
                || u64::from(t.refs) > held_by_itself(ObjectRef::Thread(thread))
            {
                return;
            }
        }
        self.terminate_process(process, 0, ExitKind::Killed, true);
    }

    /// Maps `[va, va + len)` of `process` onto `target` from `offset`.
    pub fn map_range(
        &mut self,
        process: Id,
        va: u64,
        len: u64,
        target: ObjectRef,
        offset: u64,
        flags: PageFlags,
    ) -> Result<(), Error> {
        if !va.is_multiple_of(4096)
            || len == 0
            || !len.is_multiple_of(4096)
            || !offset.is_multiple_of(4096)
        {
            return Err(Error::InvalidArgument);
        }
        va.checked_add(len)
            .filter(|end| *end <= nimbus_kcore::pagetable::USER_END)
            .ok_or(Error::BadAddress)?;
        let pages = len / 4096;
        let mut frames: Vec<u64> = Vec::new();
        frames
            .try_reserve(pages as usize)
            .map_err(|_| Error::OutOfMemory)?;
        for i in 0..pages {
            let pa = self
                .frame_of(target, offset / 4096 + i)
                .ok_or(Error::InvalidArgument)?;
            frames.push(pa);
        }
        let p = self.processes.get_mut(process).ok_or(Error::Dead)?;
        if p.state == ProcState::Exited {
            return Err(Error::Dead);
        }
        let space = p.space.as_mut().ok_or(Error::Dead)?;
        space
            .mappings
            .try_reserve(1)
            .map_err(|_| Error::OutOfMemory)?;
        let mut tables = ChargedTables {
            account: &mut p.memory,
        };
        for (i, pa) in frames.iter().enumerate() {
            let page = va + i as u64 * 4096;
            if let Err(e) = space.table.map(&mut tables, page, *pa, flags) {
                for done in 0..i as u64 {
                    space.table.unmap(&mut tables, va + done * 4096);
                }
                return Err(match e {
                    nimbus_kcore::pagetable::MapError::AlreadyMapped => Error::AlreadyMapped,
                    nimbus_kcore::pagetable::MapError::OutOfMemory => Error::QuotaExceeded,
                    nimbus_kcore::pagetable::MapError::WriteAndExecute => Error::InvalidArgument,
                    nimbus_kcore::pagetable::MapError::BadAddress => Error::BadAddress,
                });
            }
        }
        space.mappings.push(Mapping { va, len, target });
        self.retain(target);
        Ok(())
    }

    /// Removes the mapping that starts at `va` and is `len` bytes long.
    pub fn unmap_range(&mut self, process: Id, va: u64, len: u64) -> Result<(), Error> {
        let p = self.processes.get_mut(process).ok_or(Error::Dead)?;
        let space = p.space.as_mut().ok_or(Error::Dead)?;
        let index = space
            .mappings
            .iter()
            .position(|m| m.va == va && m.len == len)
            .ok_or(Error::NotMapped)?;
        let mapping = space.mappings.swap_remove(index);
        let mut tables = ChargedTables {
            account: &mut p.memory,
        };
        let mut page = va;
        while page < va + len {
            space.table.unmap(&mut tables, page);
            user::flush_page(space.asid, page);
            page += 4096;
        }
        self.release(mapping.target);
        Ok(())
    }
}
