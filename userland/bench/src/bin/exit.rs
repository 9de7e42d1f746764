//! The program the spawn benchmark starts: the runtime's start-up, a `main` that returns 0, and
//! the exit. Nothing else, so the figure is the cost of a process, not of a program.

#![no_std]
#![no_main]

use nimbus_rt::Start;

nimbus_rt::entry!(main);

fn main(_start: &Start) -> i32 {
    0
}
