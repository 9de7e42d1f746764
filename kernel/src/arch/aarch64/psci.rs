//! PSCI (Arm Power State Coordination Interface) through the smccc crate, over whichever conduit
//! the device tree's `/psci` node names.

use nimbus_board::Conduit;
use smccc::{Hvc, Smc, psci};

/// Starts CPU `mpidr` at physical address `entry` with `context` in x0.
pub fn cpu_on(conduit: Conduit, mpidr: u64, entry: u64, context: u64) -> Result<(), psci::Error> {
    match conduit {
        Conduit::Hvc => psci::cpu_on::<Hvc>(mpidr, entry, context),
        Conduit::Smc => psci::cpu_on::<Smc>(mpidr, entry, context),
    }
}

/// Powers the machine off. Returns only if the firmware refused.
pub fn system_off(conduit: Conduit) -> Result<(), psci::Error> {
    match conduit {
        Conduit::Hvc => psci::system_off::<Hvc>(),
        Conduit::Smc => psci::system_off::<Smc>(),
    }
}
