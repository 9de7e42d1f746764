#![no_std]
#![no_main]

extern crate alloc;

use nimbus_abi::{MessageInfo, syscall::TIMEOUT_FOREVER};
use nimbus_rt::{RootStart, sys};

nimbus_rt::entry!(root: main);

fn main(start: &RootStart) -> i32 {
    log::info!(
        "hello from init: archive {} bytes, dtb {} bytes",
        start.archive_len,
        start.dtb_len
    );
    let ep = sys::endpoint_create().unwrap();
    let server = nimbus_rt::thread::spawn(10, None, move || {
        let mut msg = sys::ipc_recv(ep, TIMEOUT_FOREVER).unwrap();
        loop {
            let w = msg.words;
            msg = sys::ipc_reply_recv(
                ep,
                MessageInfo::label_only(1),
                [w[0] + 1, w[1], 0, 0],
                TIMEOUT_FOREVER,
            )
            .unwrap();
        }
    })
    .unwrap();
    let _ = server;
    let t0 = sys::clock_now();
    let mut v = 0;
    for _ in 0..1000 {
        let r = sys::ipc_call(
            ep,
            MessageInfo::label_only(7),
            [v, 0, 0, 0],
            TIMEOUT_FOREVER,
        )
        .unwrap();
        v = r.words[0];
    }
    log::info!(
        "1000 calls: value {v}, {} us",
        (sys::clock_now() - t0) / 1000
    );
    let v: alloc::vec::Vec<u32> = (0..100_000).collect();
    log::info!(
        "heap works: sum {}",
        v.iter().map(|x| *x as u64).sum::<u64>()
    );
    sys::system_control(start.system, nimbus_abi::info::CONTROL_USERLAND_READY, 1).unwrap();
    loop {
        sys::sleep(1_000_000_000);
    }
}
