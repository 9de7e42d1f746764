//! MMU control beyond what the entry code sets up.

use nimbus_boot::arch::aarch64::SCTLR_MMU_ON;

/// SCTLR_EL1.WXN: every writable mapping is also execute-never, for EL1 and EL0.
const SCTLR_WXN: u64 = 1 << 19;
/// SCTLR_EL1.nTWE: EL0 may use WFE (spin loops) without trapping.
const SCTLR_NTWE: u64 = 1 << 18;
/// SCTLR_EL1.UCT: EL0 may read CTR_EL0 (cache line sizes, for memcpy and JITs).
const SCTLR_UCT: u64 = 1 << 15;
/// SCTLR_EL1.DZE: EL0 may use DC ZVA.
const SCTLR_DZE: u64 = 1 << 14;

/// TCR_EL1.AS: 16-bit ASIDs.
const TCR_AS: u64 = 1 << 36;

/// Applies the final system control settings on this CPU: W^X enforced in hardware (WXN) on top
/// of the tables' own permissions, and 16-bit ASIDs where the CPU has them.
pub fn apply_final_config() {
    let sctlr = SCTLR_MMU_ON | SCTLR_WXN | SCTLR_NTWE | SCTLR_UCT | SCTLR_DZE;
    let asid16 = if crate::arch::aarch64::user::has_16bit_asids() {
        TCR_AS
    } else {
        0
    };
    // SAFETY: only adds restrictions (WXN), EL0 permissions and the ASID width to the running
    // configuration, before any ASID-tagged translation exists; the TLB flush drops entries
    // cached under the old settings.
    unsafe {
        core::arch::asm!(
            "msr sctlr_el1, {v}",
            "mrs {t}, tcr_el1",
            "orr {t}, {t}, {a}",
            "msr tcr_el1, {t}",
            "isb",
            "tlbi vmalle1",
            "dsb nsh",
            "isb",
            v = in(reg) sctlr,
            a = in(reg) asid16,
            t = out(reg) _,
            options(nostack),
        );
    }
}
