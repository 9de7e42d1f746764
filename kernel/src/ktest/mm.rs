//! Physical memory, the heap and the kernel's page-table permissions.

use super::{Test, ensure};
use crate::arch::aarch64::probe;
use crate::mm::{PAGE_SIZE, frames, heap, memmap, phys_to_virt};
use crate::{smp, startup};
use alloc::string::String;
use alloc::vec::Vec;
use nimbus_boot::arch::aarch64::image_sections;
use nimbus_boot::layout::{KIMAGE_BASE, VMAP_BASE};

pub const TESTS: &[Test] = &[
    Test {
        name: "mm::frames_alloc_free_round_trip",
        run: frames_round_trip,
    },
    Test {
        name: "mm::frames_contiguous_aligned",
        run: frames_contiguous,
    },
    Test {
        name: "mm::frames_never_hand_out_reserved_memory",
        run: frames_never_reserved,
    },
    Test {
        name: "mm::heap_grows_on_demand",
        run: heap_grows,
    },
    Test {
        name: "mm::linear_map_covers_all_ram",
        run: linear_map_covers_ram,
    },
    Test {
        name: "mm::kernel_runs_in_upper_half",
        run: kernel_in_upper_half,
    },
    Test {
        name: "mm::wx_text_is_not_writable",
        run: text_not_writable,
    },
    Test {
        name: "mm::wx_rodata_is_not_writable",
        run: rodata_not_writable,
    },
    Test {
        name: "mm::wx_data_heap_and_stack_are_not_executable",
        run: data_not_executable,
    },
    Test {
        name: "mm::wx_linear_alias_of_image_is_read_only",
        run: linear_alias_read_only,
    },
    Test {
        name: "mm::stack_has_guard_page",
        run: stack_guard,
    },
];

fn reserved_owner(pa: u64) -> Option<&'static str> {
    memmap::get()?
        .reserved
        .iter()
        .find(|r| r.range.contains(pa))
        .map(|r| r.owner)
}

fn frames_round_trip() -> Result<(), String> {
    let before = frames::free_frames();
    let mut held = Vec::new();
    for i in 0..1024u64 {
        let pa = frames::alloc().ok_or("out of frames")?;
        ensure!(pa % PAGE_SIZE == 0, "frame {pa:#x} misaligned");
        // SAFETY: the frame is ours and in the linear map.
        unsafe { core::ptr::write_volatile(phys_to_virt(pa) as *mut u64, i ^ pa) };
        held.push(pa);
    }
    let mut sorted = held.clone();
    sorted.sort_unstable();
    sorted.dedup();
    ensure!(sorted.len() == held.len(), "a frame was handed out twice");
    ensure!(
        frames::free_frames() == before - 1024,
        "free count did not drop by 1024"
    );
    for (i, pa) in held.iter().enumerate() {
        // SAFETY: as above.
        let value = unsafe { core::ptr::read_volatile(phys_to_virt(*pa) as *const u64) };
        ensure!(value == i as u64 ^ pa, "frame {pa:#x} lost its contents");
        frames::free(*pa);
    }
    ensure!(
        frames::free_frames() == before,
        "free count {} != {before} after freeing",
        frames::free_frames()
    );
    Ok(())
}

fn frames_contiguous() -> Result<(), String> {
    let before = frames::free_frames();
    let pa = frames::alloc_contiguous_zeroed(512, 2 << 20)
        .ok_or("no 2 MiB-aligned run of 512 frames")?;
    ensure!(pa % (2 << 20) == 0, "run at {pa:#x} is not 2 MiB aligned");
    for i in 0..512 {
        ensure!(
            !frames::is_free(pa + i * PAGE_SIZE),
            "frame {i} of the run is still free"
        );
    }
    frames::free_contiguous(pa, 512);
    ensure!(frames::free_frames() == before, "free count not restored");
    Ok(())
}

/// Takes every free frame (chaining them through their own first word), checks none is
/// reserved, then gives them all back.
fn frames_never_reserved() -> Result<(), String> {
    let before = frames::free_frames();
    let mut head = 0u64;
    let mut count = 0u64;
    let mut bad = None;
    while let Some(pa) = frames::alloc() {
        if bad.is_none() {
            bad = reserved_owner(pa).map(|owner| (pa, owner));
        }
        // SAFETY: the frame is ours and in the linear map.
        unsafe { core::ptr::write_volatile(phys_to_virt(pa) as *mut u64, head) };
        head = pa;
        count += 1;
    }
    while head != 0 {
        // SAFETY: every frame in the chain is ours; its first word links to the previous one.
        let next = unsafe { core::ptr::read_volatile(phys_to_virt(head) as *const u64) };
        frames::free(head);
        head = next;
    }
    ensure!(count == before, "drained {count} frames, expected {before}");
    ensure!(frames::free_frames() == before, "free count not restored");
    if let Some((pa, owner)) = bad {
        return Err(alloc::format!("frame {pa:#x} belongs to the {owner}"));
    }
    Ok(())
}

fn heap_grows() -> Result<(), String> {
    let (size_before, _) = heap::usage();
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    for i in 0..64u8 {
        blocks.push(alloc::vec![i; 64 * 1024]);
    }
    let (size_after, used) = heap::usage();
    ensure!(
        size_after > size_before && size_after >= 4 * 1024 * 1024,
        "heap did not grow ({size_before} -> {size_after})"
    );
    ensure!(used >= 4 * 1024 * 1024, "heap reports {used} bytes used");
    for (i, block) in blocks.iter().enumerate() {
        ensure!(block.iter().all(|b| *b == i as u8), "block {i} corrupted");
    }
    drop(blocks);
    let (_, used_after) = heap::usage();
    ensure!(used_after < used, "freeing did not reduce use");
    Ok(())
}

fn linear_map_covers_ram() -> Result<(), String> {
    let map = memmap::get().ok_or("no memory map")?;
    for range in &map.ram {
        for pa in [range.start, range.end - 8] {
            ensure!(
                probe::read_u64(phys_to_virt(pa)).is_some(),
                "RAM at {pa:#x} is not in the linear map"
            );
        }
    }
    Ok(())
}

fn kernel_in_upper_half() -> Result<(), String> {
    let code = kernel_in_upper_half as *const () as u64;
    let local = 0u64;
    let sp = &local as *const u64 as u64;
    ensure!(
        code >= KIMAGE_BASE,
        "code at {code:#x} is not in the image mapping"
    );
    ensure!(sp >= VMAP_BASE, "stack at {sp:#x} is not in the vmap area");
    Ok(())
}

fn text_not_writable() -> Result<(), String> {
    let text = text_not_writable as *const () as u64;
    ensure!(
        probe::read_u64(text).is_some(),
        "kernel text is not readable"
    );
    // SAFETY: `text` is mapped kernel text (the probe above read it).
    let byte = unsafe { core::ptr::read_volatile(text as *const u8) };
    // SAFETY: the write is expected to fault; if it does not, the byte written is the one read.
    let written = unsafe { probe::write_u8(text, byte) };
    ensure!(!written, "kernel text at {text:#x} is writable");
    Ok(())
}

static RODATA_MARKER: [u8; 8] = *b"nimbus!!";

fn rodata_not_writable() -> Result<(), String> {
    let addr = RODATA_MARKER.as_ptr() as u64;
    let (start, end) = image_sections().rodata;
    ensure!(
        (start..end).contains(&addr),
        "marker at {addr:#x} is not in .rodata"
    );
    // SAFETY: expected to fault; otherwise it rewrites the same byte.
    let written = unsafe { probe::write_u8(addr, b'n') };
    ensure!(!written, "rodata at {addr:#x} is writable");
    Ok(())
}

/// `mov x0, #0; ret`: what a probe would run if the memory were executable.
const RETURN_ZERO: [u32; 2] = [0xd280_0000, 0xd65f_03c0];

static mut DATA_CODE: [u32; 2] = [0; 2];

fn data_not_executable() -> Result<(), String> {
    // SAFETY: the test is the only user of this static.
    let data = unsafe {
        let p = core::ptr::addr_of_mut!(DATA_CODE);
        p.write(RETURN_ZERO);
        p as u64
    };
    let heap = alloc::boxed::Box::new(RETURN_ZERO);
    let stack = RETURN_ZERO;
    for (what, addr) in [
        ("data", data),
        ("heap", &*heap as *const _ as u64),
        ("stack", &stack as *const _ as u64),
    ] {
        // SAFETY: if the fetch unexpectedly succeeds, the code returns 0 and preserves x9.
        let executed = unsafe { probe::exec(addr) };
        ensure!(!executed, "{what} at {addr:#x} is executable");
    }
    Ok(())
}

fn linear_alias_read_only() -> Result<(), String> {
    let text = linear_alias_read_only as *const () as u64;
    let alias = phys_to_virt(text - KIMAGE_BASE + startup::load_pa());
    let via_image = probe::read_u64(text);
    ensure!(
        via_image.is_some() && probe::read_u64(alias) == via_image,
        "linear alias {alias:#x} does not show the text"
    );
    // SAFETY: the alias was just read through the probe, so it is mapped.
    let byte = unsafe { core::ptr::read_volatile(alias as *const u8) };
    // SAFETY: expected to fault; otherwise it rewrites the byte already there.
    let written = unsafe { probe::write_u8(alias, byte) };
    ensure!(!written, "image alias {alias:#x} is writable");
    let code_alias = phys_to_virt(RETURN_ZERO.as_ptr() as u64 - KIMAGE_BASE + startup::load_pa());
    // SAFETY: if executable, this is real kernel code at its own alias; never reached when W^X holds.
    let executed = unsafe { probe::exec(code_alias) };
    ensure!(!executed, "the linear map is executable");
    Ok(())
}

fn stack_guard() -> Result<(), String> {
    let me = smp::this_cpu();
    let bottom = me.stack_bottom();
    ensure!(bottom != 0, "cpu {} has no recorded stack", me.index());
    ensure!(
        probe::read_u64(bottom).is_some(),
        "stack bottom {bottom:#x} is not mapped"
    );
    ensure!(
        probe::read_u64(bottom - 8).is_none(),
        "no guard page below the stack at {bottom:#x}"
    );
    Ok(())
}
