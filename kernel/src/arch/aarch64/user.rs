//! User mode: the saved register state of a thread, entering and leaving EL0, and the
//! per-CPU registers that belong to the running thread (TTBR0, TPIDR_EL0).

core::arch::global_asm!(include_str!("user.S"));

unsafe extern "C" {
    fn el0_return() -> !;
}

/// Everything a thread's user mode state consists of, laid out as `user.S` saves it.
#[repr(C, align(16))]
#[derive(Clone)]
pub struct UserContext {
    /// x0..x30.
    pub x: [u64; 31],
    /// SP_EL0.
    pub sp: u64,
    /// Where the thread resumes (ELR_EL1).
    pub elr: u64,
    /// Its PSTATE (SPSR_EL1).
    pub spsr: u64,
    /// FP status.
    pub fpsr: u64,
    /// FP control.
    pub fpcr: u64,
    /// q0..q31.
    pub q: [u128; 32],
    /// The thread pointer register (TPIDR_EL0).
    pub tpidr_el0: u64,
    reserved: u64,
}

const _: () = assert!(core::mem::size_of::<UserContext>() == 816);
const _: () = assert!(core::mem::offset_of!(UserContext, sp) == 248);
const _: () = assert!(core::mem::offset_of!(UserContext, elr) == 256);
const _: () = assert!(core::mem::offset_of!(UserContext, fpsr) == 272);
const _: () = assert!(core::mem::offset_of!(UserContext, q) == 288);
const _: () = assert!(core::mem::offset_of!(UserContext, tpidr_el0) == 800);

/// SPSR for EL0t (AArch64, SP_EL0) with all interrupts unmasked.
const SPSR_EL0: u64 = 0;

impl UserContext {
    /// A thread that starts at `entry` with stack `sp` and `args` in x0.. .
    pub fn new(entry: u64, sp: u64, args: &[u64]) -> Self {
        let mut x = [0; 31];
        for (reg, arg) in x.iter_mut().zip(args) {
            *reg = *arg;
        }
        Self {
            x,
            sp,
            elr: entry,
            spsr: SPSR_EL0,
            fpsr: 0,
            fpcr: 0,
            q: [0; 32],
            tpidr_el0: 0,
            reserved: 0,
        }
    }
}

/// Resumes the thread whose context this CPU's `PerCpu` points at, on a fresh kernel stack.
pub fn return_to_user() -> ! {
    // SAFETY: `el0_return` restores the context the per-CPU block names, which the scheduler
    // set to a live thread's context before calling this, and erets to EL0.
    unsafe { el0_return() }
}

/// Installs a user address space (root table and ASID) in TTBR0.
pub fn set_user_tables(root_pa: u64, asid: u16) {
    let ttbr0 = root_pa | (u64::from(asid) << 48);
    // SAFETY: TTBR0 only maps user addresses; the kernel runs from TTBR1 and never relies on
    // TTBR0 except through the linear map.
    unsafe {
        core::arch::asm!("msr ttbr0_el1, {0}", "isb", in(reg) ttbr0, options(nostack, preserves_flags))
    };
}

/// Drops every TLB entry tagged with `asid`, on all CPUs.
pub fn flush_asid(asid: u16) {
    let operand = u64::from(asid) << 48;
    // SAFETY: TLB maintenance has no effect on program state.
    unsafe {
        core::arch::asm!("dsb ishst", "tlbi aside1is, {0}", "dsb ish", "isb", in(reg) operand, options(nostack, preserves_flags))
    };
}

/// Drops the TLB entry for user page `va` in `asid`, on all CPUs.
pub fn flush_page(asid: u16, va: u64) {
    let operand = (u64::from(asid) << 48) | ((va >> 12) & 0xfff_ffff_ffff);
    // SAFETY: TLB maintenance has no effect on program state.
    unsafe {
        core::arch::asm!("dsb ishst", "tlbi vae1is, {0}", "dsb ish", "isb", in(reg) operand, options(nostack, preserves_flags))
    };
}

/// Whether this CPU supports 16-bit ASIDs (ID_AA64MMFR0_EL1.ASIDBits).
pub fn has_16bit_asids() -> bool {
    let mmfr0: u64;
    // SAFETY: reading an ID register has no side effects.
    unsafe {
        core::arch::asm!("mrs {0}, id_aa64mmfr0_el1", out(reg) mmfr0, options(nostack, nomem, preserves_flags))
    };
    (mmfr0 >> 4) & 0xf == 0b0010
}
