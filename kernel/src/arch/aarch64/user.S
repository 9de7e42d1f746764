// Entry from and return to EL0.
//
// User registers are saved straight into the running thread's UserContext, found through
// TPIDR_EL1 -> PerCpu.current_context, so switching threads is switching that pointer (and
// TTBR0): nothing is copied. The kernel stack is empty whenever a CPU is in user mode;
// `el0_return` resets SP to its top, so the kernel never leaks stack across returns.

.equ CTX_SP, 248
.equ CTX_ELR, 256
.equ CTX_FPSR, 272
.equ CTX_Q, 288
.equ CTX_TPIDR, 800
.equ PERCPU_CONTEXT, 0
.equ PERCPU_STACK_TOP, 8

// x0 = context; the user's x0/x1 are on the kernel stack.
.macro SAVE_USER
    stp     x2, x3, [x0, #16]
    stp     x4, x5, [x0, #32]
    stp     x6, x7, [x0, #48]
    stp     x8, x9, [x0, #64]
    stp     x10, x11, [x0, #80]
    stp     x12, x13, [x0, #96]
    stp     x14, x15, [x0, #112]
    stp     x16, x17, [x0, #128]
    stp     x18, x19, [x0, #144]
    stp     x20, x21, [x0, #160]
    stp     x22, x23, [x0, #176]
    stp     x24, x25, [x0, #192]
    stp     x26, x27, [x0, #208]
    stp     x28, x29, [x0, #224]
    ldp     x2, x3, [sp], #16
    stp     x2, x3, [x0, #0]
    mrs     x2, sp_el0
    stp     x30, x2, [x0, #240]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [x0, #CTX_ELR]
    mrs     x2, fpsr
    mrs     x3, fpcr
    stp     x2, x3, [x0, #CTX_FPSR]
    mrs     x2, tpidr_el0
    str     x2, [x0, #CTX_TPIDR]
    add     x2, x0, #CTX_Q
    stp     q0, q1, [x2, #0]
    stp     q2, q3, [x2, #32]
    stp     q4, q5, [x2, #64]
    stp     q6, q7, [x2, #96]
    stp     q8, q9, [x2, #128]
    stp     q10, q11, [x2, #160]
    stp     q12, q13, [x2, #192]
    stp     q14, q15, [x2, #224]
    stp     q16, q17, [x2, #256]
    stp     q18, q19, [x2, #288]
    stp     q20, q21, [x2, #320]
    stp     q22, q23, [x2, #352]
    stp     q24, q25, [x2, #384]
    stp     q26, q27, [x2, #416]
    stp     q28, q29, [x2, #448]
    stp     q30, q31, [x2, #480]
.endm

.section .text.user_entry, "ax"
.global el0_sync_entry
el0_sync_entry:
    SAVE_USER
    mrs     x1, esr_el1
    mrs     x2, far_el1
    bl      el0_sync_handler
    b       el0_return

.global el0_irq_entry
el0_irq_entry:
    SAVE_USER
    bl      el0_irq_handler
    b       el0_return

// Resumes the current thread of this CPU. Never returns.
.global el0_return
el0_return:
    mrs     x0, tpidr_el1
    ldr     x1, [x0, #PERCPU_STACK_TOP]
    mov     sp, x1
    ldr     x0, [x0, #PERCPU_CONTEXT]
    add     x2, x0, #CTX_Q
    ldp     q0, q1, [x2, #0]
    ldp     q2, q3, [x2, #32]
    ldp     q4, q5, [x2, #64]
    ldp     q6, q7, [x2, #96]
    ldp     q8, q9, [x2, #128]
    ldp     q10, q11, [x2, #160]
    ldp     q12, q13, [x2, #192]
    ldp     q14, q15, [x2, #224]
    ldp     q16, q17, [x2, #256]
    ldp     q18, q19, [x2, #288]
    ldp     q20, q21, [x2, #320]
    ldp     q22, q23, [x2, #352]
    ldp     q24, q25, [x2, #384]
    ldp     q26, q27, [x2, #416]
    ldp     q28, q29, [x2, #448]
    ldp     q30, q31, [x2, #480]
    ldp     x2, x3, [x0, #CTX_FPSR]
    msr     fpsr, x2
    msr     fpcr, x3
    ldr     x2, [x0, #CTX_TPIDR]
    msr     tpidr_el0, x2
    ldp     x2, x3, [x0, #CTX_ELR]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldp     x30, x2, [x0, #240]
    msr     sp_el0, x2
    ldp     x2, x3, [x0, #16]
    ldp     x4, x5, [x0, #32]
    ldp     x6, x7, [x0, #48]
    ldp     x8, x9, [x0, #64]
    ldp     x10, x11, [x0, #80]
    ldp     x12, x13, [x0, #96]
    ldp     x14, x15, [x0, #112]
    ldp     x16, x17, [x0, #128]
    ldp     x18, x19, [x0, #144]
    ldp     x20, x21, [x0, #160]
    ldp     x22, x23, [x0, #176]
    ldp     x24, x25, [x0, #192]
    ldp     x26, x27, [x0, #208]
    ldp     x28, x29, [x0, #224]
    ldp     x0, x1, [x0, #0]
    eret
