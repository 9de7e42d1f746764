// Exception vectors. Every exception taken at EL1 saves the complete register state (general
// purpose, FP/SIMD and the exception registers) in an ExceptionFrame on the current stack and
// calls `exception_entry(frame, kind)` in Rust; returning restores the (possibly modified) frame.
// Exceptions from EL0 take the same path until user processes exist.

.equ FRAME_SIZE, 816
.equ FRAME_SP, 248
.equ FRAME_ELR, 256
.equ FRAME_ESR, 272
.equ FRAME_FPSR, 288
.equ FRAME_Q, 304

.macro SAVE_FRAME_AFTER_X1
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    add     x2, sp, #FRAME_SIZE
    stp     x30, x2, [sp, #240]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [sp, #FRAME_ELR]
    mrs     x2, esr_el1
    mrs     x3, far_el1
    stp     x2, x3, [sp, #FRAME_ESR]
    mrs     x2, fpsr
    mrs     x3, fpcr
    stp     x2, x3, [sp, #FRAME_FPSR]
    add     x0, sp, #FRAME_Q
    stp     q0, q1, [x0, #0]
    stp     q2, q3, [x0, #32]
    stp     q4, q5, [x0, #64]
    stp     q6, q7, [x0, #96]
    stp     q8, q9, [x0, #128]
    stp     q10, q11, [x0, #160]
    stp     q12, q13, [x0, #192]
    stp     q14, q15, [x0, #224]
    stp     q16, q17, [x0, #256]
    stp     q18, q19, [x0, #288]
    stp     q20, q21, [x0, #320]
    stp     q22, q23, [x0, #352]
    stp     q24, q25, [x0, #384]
    stp     q26, q27, [x0, #416]
    stp     q28, q29, [x0, #448]
    stp     q30, q31, [x0, #480]
.endm

.macro RESTORE_FRAME_AND_RETURN
    add     x0, sp, #FRAME_Q
    ldp     q0, q1, [x0, #0]
    ldp     q2, q3, [x0, #32]
    ldp     q4, q5, [x0, #64]
    ldp     q6, q7, [x0, #96]
    ldp     q8, q9, [x0, #128]
    ldp     q10, q11, [x0, #160]
    ldp     q12, q13, [x0, #192]
    ldp     q14, q15, [x0, #224]
    ldp     q16, q17, [x0, #256]
    ldp     q18, q19, [x0, #288]
    ldp     q20, q21, [x0, #320]
    ldp     q22, q23, [x0, #352]
    ldp     q24, q25, [x0, #384]
    ldp     q26, q27, [x0, #416]
    ldp     q28, q29, [x0, #448]
    ldp     q30, q31, [x0, #480]
    ldp     x0, x1, [sp, #FRAME_FPSR]
    msr     fpsr, x0
    msr     fpcr, x1
    ldp     x0, x1, [sp, #FRAME_ELR]
    msr     elr_el1, x0
    msr     spsr_el1, x1
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    ldr     x30, [sp, #240]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #FRAME_SIZE
    eret
.endm

.macro VECTOR kind
.balign 0x80
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #0]
    mov     x1, #\kind
    b       exception_common
.endm

.section .text.vectors, "ax"
.balign 2048
.global exception_vectors
exception_vectors:
    // Current EL with SP_EL0 (never used: the kernel runs on SP_EL1).
    VECTOR 0
    VECTOR 1
    VECTOR 2
    VECTOR 3
    // Current EL with SP_EL1: synchronous, IRQ, FIQ, SError.
    VECTOR 4
    VECTOR 5
    VECTOR 6
    VECTOR 7
    // Lower EL, AArch64: synchronous (system calls, faults) and IRQ go to user.S.
.balign 0x80
    stp     x0, x1, [sp, #-16]!
    mrs     x0, tpidr_el1
    ldr     x0, [x0]
    b       el0_sync_entry
.balign 0x80
    stp     x0, x1, [sp, #-16]!
    mrs     x0, tpidr_el1
    ldr     x0, [x0]
    b       el0_irq_entry
    VECTOR 10
    VECTOR 11
    // Lower EL, AArch32 (not supported).
    VECTOR 12
    VECTOR 13
    VECTOR 14
    VECTOR 15

// x1 = vector kind; x0 and x1 are already saved.
exception_common:
    SAVE_FRAME_AFTER_X1
    mov     x0, sp
    bl      exception_entry
    RESTORE_FRAME_AND_RETURN
