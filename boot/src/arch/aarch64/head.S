// Entry code of the Nimbus kernel Image: runs at the physical load address with the MMU off.
//
// The contract with loaders is the arm64 Linux one: x0 = physical address of the device tree,
// MMU and D-cache off, entered at EL2 or EL1 at any 4 KiB-aligned address (loaders use 2 MiB).
// This file drops to EL1, enables FP/SIMD (the target is hard-float), builds just enough page
// tables to run at the link address, turns on the MMU and calls Rust. Everything here is
// position independent (adr/adrp) until the jump to the high virtual address.
//
// Registers kept across the calls below: x19 = DTB pointer, x20 = load address,
// x21 = counter at entry, x22 = exception level at entry, x24 = next free idmap L2 table.

.section .text.head, "ax"
.global _start
_start:
    b       primary_entry               // code0
    .long   0                           // code1
    .quad   0                           // text_offset
    .quad   _image_size                 // image_size: xtask grows it to cover the boot archive
    .quad   {IMAGE_FLAGS}               // flags: little endian, 4 KiB pages, anywhere in RAM
    .quad   0                           // res2
    .quad   0                           // res3
    .quad   0                           // res4
    .ascii  "ARM\x64"                   // magic
    .long   0                           // res5

.section .text.boot, "ax"
primary_entry:
    mrs     x21, cntpct_el0
    mov     x19, x0
    adr     x20, _start
    mrs     x22, CurrentEL
    lsr     x22, x22, #2
    bl      drop_to_el1
    bl      enable_fpsimd
    tst     x20, #0xfff                 // the early tables map whole pages
    b.ne    boot_halt
    bl      build_early_tables
    adrp    x1, early_ttbr1_l1
    bl      enable_mmu
    ldr     x8, =primary_high
    br      x8

// Configure EL1 and return to the caller at EL1, if entered at EL2.
drop_to_el1:
    mrs     x0, CurrentEL
    cmp     x0, #(2 << 2)
    b.ne    1f
    mov     x0, #(1 << 31)              // HCR_EL2.RW: EL1 runs AArch64
    msr     hcr_el2, x0
    mrs     x0, cnthctl_el2
    orr     x0, x0, #3                  // EL1PCTEN | EL1PCEN: EL1 owns the physical timer
    msr     cnthctl_el2, x0
    msr     cntvoff_el2, xzr
    mrs     x0, id_aa64pfr0_el1
    ubfx    x0, x0, #24, #4             // GIC system register interface implemented?
    cbz     x0, 2f
    mrs     x0, S3_4_C12_C9_5           // ICC_SRE_EL2
    mov     x1, #0x9                    // SRE | Enable: EL1 may use the system registers
    orr     x0, x0, x1
    msr     S3_4_C12_C9_5, x0
    isb
    msr     S3_4_C12_C11_0, xzr         // ICH_HCR_EL2: no virtual interrupts
2:  mov     x0, #0x33ff                 // CPTR_EL2: no FP/SIMD traps (RES1 bits set)
    msr     cptr_el2, x0
    msr     hstr_el2, xzr
    mrs     x0, midr_el1
    msr     vpidr_el2, x0
    mrs     x0, mpidr_el1
    msr     vmpidr_el2, x0
    msr     vttbr_el2, xzr
    ldr     x0, ={SCTLR_MMU_OFF}
    msr     sctlr_el1, x0
    mov     x0, #0x3c5                  // SPSR: EL1h with D, A, I and F masked
    msr     spsr_el2, x0
    msr     elr_el2, x30
    isb
    eret
1:  ret

enable_fpsimd:
    mov     x0, #(3 << 20)              // CPACR_EL1.FPEN: no FP/SIMD traps at EL1 and EL0
    msr     cpacr_el1, x0
    isb
    ret

// TTBR1: the image at KIMAGE_BASE with 4 KiB pages (RW and executable for now; the kernel
// replaces these tables with W^X ones). TTBR0: an identity map, in 2 MiB blocks, of the image
// (read-only, executable: the MMU-on switch and the secondary CPUs run from it) and of the
// device tree (read-only) so early Rust code can read it.
build_early_tables:
    mov     x23, x30
    adrp    x0, _early_pgtables_start
    adrp    x1, _early_pgtables_end
1:  stp     xzr, xzr, [x0], #16
    cmp     x0, x1
    b.lo    1b

    adrp    x0, early_ttbr1_l1
    adrp    x1, early_ttbr1_l2
    orr     x2, x1, #3
    str     x2, [x0, #{L1_KIMAGE_OFFSET}]
    adrp    x3, early_ttbr1_l3
    mov     x4, #0
2:  orr     x2, x3, #3
    str     x2, [x1, x4, lsl #3]
    add     x3, x3, #4096
    add     x4, x4, #1
    cmp     x4, #{EARLY_L3_TABLES}
    b.lo    2b

    adrp    x3, early_ttbr1_l3
    ldr     x5, =_image_pages
    ldr     x6, ={EARLY_PAGE_ATTRS}
    orr     x6, x6, x20
    mov     x4, #0
3:  str     x6, [x3, x4, lsl #3]
    add     x6, x6, #4096
    add     x4, x4, #1
    cmp     x4, x5
    b.lo    3b

    adrp    x24, early_idmap_l2
    mov     x1, x20
    ldr     x2, =_image_size
    add     x2, x20, x2
    ldr     x3, ={IDMAP_TEXT_ATTRS}
    bl      idmap_range
    cbz     x19, 4f
    tst     x19, #7
    b.ne    4f
    mov     x1, x19
    ldr     x2, ={DTB_MAX_SIZE}
    add     x2, x19, x2
    ldr     x3, ={IDMAP_DATA_ATTRS}
    bl      idmap_range

    // The tables were written with the MMU off, straight to memory: drop any stale cache
    // lines so the walker, which reads through the caches once they are on, sees them.
4:  adrp    x0, _early_pgtables_start
    adrp    x1, _early_pgtables_end
    mrs     x3, ctr_el0
    ubfx    x3, x3, #16, #4             // DminLine: log2 of the line size in words
    mov     x4, #4
    lsl     x3, x4, x3
5:  dc      ivac, x0
    add     x0, x0, x3
    cmp     x0, x1
    b.lo    5b
    dsb     sy
    mov     x30, x23
    ret

// Identity-map [x1, x2) with 2 MiB blocks carrying attributes x3. At most four L2 tables are
// needed: the image (at most 16 MiB) and the tree (at most 2 MiB) each touch at most two GiBs.
idmap_range:
    and     x1, x1, #0xffffffffffe00000
1:  cmp     x1, x2
    b.hs    9f
    lsr     x4, x1, #{VA_BITS}
    cbnz    x4, 9f                      // beyond what TTBR0 can translate
    ubfx    x4, x1, #30, #9
    adrp    x5, early_idmap_l1
    ldr     x6, [x5, x4, lsl #3]
    cbnz    x6, 2f
    mov     x6, x24
    add     x24, x24, #4096
    orr     x7, x6, #3
    str     x7, [x5, x4, lsl #3]
    b       3f
2:  and     x6, x6, #0xfffffffff000
3:  ubfx    x4, x1, #21, #9
    orr     x7, x1, x3
    str     x7, [x6, x4, lsl #3]
    add     x1, x1, #0x200000
    b       1b
9:  ret

// Turn the MMU on with TTBR0 = the identity map and TTBR1 = x1. Returns through the identity map.
enable_mmu:
    ldr     x0, ={MAIR}
    msr     mair_el1, x0
    ldr     x0, ={TCR}
    mrs     x2, id_aa64mmfr0_el1
    and     x2, x2, #0x7                // PARange -> TCR_EL1.IPS, at most 48 bits with 4 KiB pages
    mov     x3, #5
    cmp     x2, x3
    csel    x2, x2, x3, lo
    bfi     x0, x2, #32, #3
    msr     tcr_el1, x0
    adrp    x0, early_idmap_l1
    msr     ttbr0_el1, x0
    msr     ttbr1_el1, x1
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    ldr     x0, ={SCTLR_MMU_ON}
    msr     sctlr_el1, x0
    isb
    ic      iallu
    dsb     nsh
    isb
    ret

primary_high:
    adrp    x0, _bss_start
    add     x0, x0, :lo12:_bss_start
    adrp    x1, _bss_end
    add     x1, x1, :lo12:_bss_end
1:  cmp     x0, x1
    b.hs    2f
    stp     xzr, xzr, [x0], #16
    b       1b
2:  adrp    x0, boot_stack_top
    add     x0, x0, :lo12:boot_stack_top
    mov     sp, x0
    mov     x29, xzr
    mov     x30, xzr
    mov     x0, x19
    mov     x1, x20
    mov     x2, x21
    mov     x3, x22
    bl      nimbus_boot_primary
    b       boot_halt

// Secondary CPUs (PSCI CPU_ON or spin-table release) start here at their physical address.
// The primary publishes the kernel's TTBR1 (cleaned to memory), the stack and the CPU index in
// SECONDARY_BOOT and starts one CPU at a time.
.global secondary_entry
secondary_entry:
    bl      drop_to_el1
    bl      enable_fpsimd
    adrp    x1, SECONDARY_BOOT
    ldr     x1, [x1, :lo12:SECONDARY_BOOT]
    bl      enable_mmu
    ldr     x8, =secondary_high
    br      x8

secondary_high:
    adrp    x0, SECONDARY_BOOT
    add     x0, x0, :lo12:SECONDARY_BOOT
    ldr     x1, [x0, #8]
    mov     sp, x1
    mov     x29, xzr
    mov     x30, xzr
    ldr     x0, [x0, #16]
    bl      nimbus_boot_secondary
    b       boot_halt

.global boot_halt
boot_halt:
    wfe
    b       boot_halt

// Switch TTBR1 to x0 with break-before-make: called through its identity-mapped address so that
// no instruction is fetched through TTBR1 while its TLB entries are being replaced.
.section .idmap.text, "ax"
.global replace_ttbr1
replace_ttbr1:
    adrp    x1, early_zero_table
    msr     ttbr1_el1, x1
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    msr     ttbr1_el1, x0
    isb
    ret

.section .early_pgtables, "aw", @nobits
.balign 4096
early_ttbr1_l1:     .space 4096
early_ttbr1_l2:     .space 4096
early_ttbr1_l3:     .space 4096 * {EARLY_L3_TABLES}
early_idmap_l1:     .space 4096
early_idmap_l2:     .space 4096 * 4
early_zero_table:   .space 4096

.section .bss.boot_stack, "aw", @nobits
.balign 16
boot_stack:         .space {BOOT_STACK_SIZE}
boot_stack_top:
