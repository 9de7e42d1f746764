//! Device drivers the kernel itself needs: the console UART (shared with the userland console
//! server, in the `nimbus-uart` crate). Every other device is driven from userland.

pub use nimbus_uart as uart;

/// The driver kind for a UART the device tree describes, if there is one.
pub fn uart_kind(kind: &nimbus_board::UartKind) -> Option<uart::UartKind> {
    match *kind {
        nimbus_board::UartKind::Pl011 => Some(uart::UartKind::Pl011),
        nimbus_board::UartKind::Ns16550 {
            reg_shift,
            reg_io_width,
        } => Some(uart::UartKind::Ns16550 {
            reg_shift,
            reg_io_width,
        }),
        nimbus_board::UartKind::Bcm2835Aux => Some(uart::UartKind::Bcm2835Aux),
        nimbus_board::UartKind::Unsupported => None,
    }
}
