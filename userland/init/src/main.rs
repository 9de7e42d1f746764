//! init, the root task.
//!
//! It holds every right in the system and gives each server exactly what the system manifest
//! grants: endpoints of the services it provides and uses, its devices (matched in the device
//! tree), kernel rights, and quotas. Then it supervises: a server that faults or exits is
//! reported and, if its policy says so, restarted with the same endpoints, so its clients'
//! handles stay valid and they reconnect by retrying.

#![no_std]
#![no_main]

extern crate alloc;

mod boot;
mod devices;
mod spawn;
mod supervise;

use nimbus_abi::info::CONTROL_USERLAND_READY;
use nimbus_rt::{RootStart, sys};

nimbus_rt::entry!(root: main);

fn main(root: &RootStart) -> i32 {
    let files = match boot::BootFiles::map(root) {
        Ok(files) => files,
        Err(e) => {
            log::error!("cannot read the boot archive and device tree: {e}");
            return 1;
        }
    };
    let manifest = match files.manifest() {
        Ok(m) => m,
        Err(e) => {
            log::error!("bad system manifest: {e}");
            return 1;
        }
    };
    let mut supervisor = match supervise::Supervisor::new(root, files, manifest) {
        Ok(s) => s,
        Err(e) => {
            log::error!("cannot set up supervision: {e}");
            return 1;
        }
    };
    let started = supervisor.start_all();
    if let Err(e) = sys::system_control(root.system, CONTROL_USERLAND_READY, started as u64 + 1) {
        log::warn!("cannot announce userland: {e}");
    }
    supervisor.run()
}
