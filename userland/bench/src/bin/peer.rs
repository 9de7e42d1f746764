//! The other side of the benchmark root task's cross-process measurements, in its own process.
//! The start value `mode` says which part it plays (see `nimbus_bench::peer`); it signals `ready`
//! when it is about to play it and then never returns: the root task kills it when done. An exit
//! code means it could not play its part.

#![no_std]
#![no_main]

use core::sync::atomic::Ordering;
use nimbus_bench::peer::{Mode, NOTIFY, NotifyPage, READY, SERVE, SHARED_VA};
use nimbus_bench::{counter, raw};
use nimbus_rt::{Handle, Start, sys};

nimbus_rt::entry!(main);

/// Exit codes, one per way of failing.
const NO_MODE: i32 = 2;
const NO_HANDLE: i32 = 3;
const NOT_READY: i32 = 4;
const CALL_FAILED: i32 = 5;

fn main(start: &Start) -> i32 {
    let Some(mode) = start
        .value(nimbus_bench::peer::MODE)
        .and_then(Mode::from_u32)
    else {
        return NO_MODE;
    };
    let Some(ready) = start.handle(READY) else {
        return NO_HANDLE;
    };
    match mode {
        Mode::IpcServer => {
            let Some(endpoint) = start.handle(SERVE) else {
                return NO_HANDLE;
            };
            if sys::signal(ready, 1).is_err() {
                return NOT_READY;
            }
            raw::serve(endpoint);
            CALL_FAILED
        }
        Mode::Yield => {
            if sys::signal(ready, 1).is_err() {
                return NOT_READY;
            }
            raw::yield_forever()
        }
        Mode::NotifyWaiter => {
            let Some(notification) = start.handle(NOTIFY) else {
                return NO_HANDLE;
            };
            if sys::signal(ready, 1).is_err() {
                return NOT_READY;
            }
            wait_forever(notification)
        }
    }
}

/// Waits on `notification` and, after each wake-up, adds the time since the signaller's
/// timestamp to the shared page.
fn wait_forever(notification: Handle) -> i32 {
    // SAFETY: the root task maps a zeroed NotifyPage read-write at SHARED_VA before it starts
    // this process and keeps it mapped for the life of the process; it holds only atomics.
    let page = unsafe { &*(SHARED_VA as *const NotifyPage) };
    loop {
        let status = raw::wait(notification);
        let woken_at = counter::now();
        if status != 0 {
            return CALL_FAILED;
        }
        let latency = woken_at.wrapping_sub(page.signalled_at.load(Ordering::Relaxed));
        let sum = page.latency_ticks.load(Ordering::Relaxed);
        page.latency_ticks
            .store(sum.wrapping_add(latency), Ordering::Relaxed);
        let wakes = page.wakes.load(Ordering::Relaxed);
        page.wakes.store(wakes + 1, Ordering::Relaxed);
    }
}
