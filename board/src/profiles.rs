//! Board profiles as data: what each target is, how to build an image for
//! it and boot it, and what is known to be odd about it.
//!
//! The facts come from measurements on QEMU 7.2, U-Boot 2023.01 and
//! mkbootimg 29 (Debian bookworm) and from the DTBs in `board/dtbs/`. Steps
//! that were *not* measured say so. xtask reads these to pick QEMU
//! arguments; `dt-info` and people read the quirks.

/// How an image is packaged and handed to the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// An arm64 Linux-style `Image` given to QEMU with `-kernel`.
    QemuKernel,
    /// `Image` plus a U-Boot `boot.scr` on a FAT partition, started with
    /// `booti`.
    UBootScript,
    /// An Android boot image made with `mkbootimg`, sent with `fastboot`.
    AndroidBootImage,
}

impl ImageFormat {
    /// Short name (`qemu-kernel`, `u-boot-script`, `android-boot-image`).
    pub fn as_str(&self) -> &'static str {
        match self {
            ImageFormat::QemuKernel => "qemu-kernel",
            ImageFormat::UBootScript => "u-boot-script",
            ImageFormat::AndroidBootImage => "android-boot-image",
        }
    }
}

/// One way to boot a board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootMethod {
    /// Image format.
    pub format: ImageFormat,
    /// Whether these steps were run and verified.
    pub verified: bool,
    /// Short step list for a person (and for xtask messages).
    pub steps: &'static [&'static str],
}

/// A target board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoardProfile {
    /// Name used on the command line (`qemu-virt`, `raspi3b`, `pinephone`).
    pub name: &'static str,
    /// One line.
    pub description: &'static str,
    /// QEMU arguments selecting the machine and CPU, if it is emulated.
    pub qemu_machine: Option<&'static [&'static str]>,
    /// Representative DTBs in `board/dtbs/`.
    pub dtbs: &'static [&'static str],
    /// Where the console is.
    pub console: &'static str,
    /// Ways to boot it, preferred first.
    pub boot: &'static [BootMethod],
    /// Known quirks the kernel or the build must respect.
    pub quirks: &'static [&'static str],
}

impl BoardProfile {
    /// Whether QEMU can run it.
    pub fn is_emulated(&self) -> bool {
        self.qemu_machine.is_some()
    }

    /// The preferred boot method.
    pub fn primary_boot(&self) -> Option<&'static BootMethod> {
        self.boot.first()
    }
}

const IMAGE_HEADER: &str = "build an arm64 Image: magic \"ARM\\x64\" at 0x38, image_size != 0, flags 0xa (LE, 4K pages, 2 MiB-aligned base anywhere); it must run from any 2 MiB-aligned base";

static PROFILES: [BoardProfile; 4] = [
    BoardProfile {
        name: "qemu-virt",
        description: "QEMU 7.2 `virt` machine (Cortex-A53/A57/max, GICv2 or GICv3, virtio-mmio): the board the test suite boots",
        qemu_machine: Some(&["-M", "virt", "-cpu", "cortex-a53"]),
        dtbs: &[
            "virt-a53-smp1-128m.dtb",
            "virt-a53-smp2-512m.dtb",
            "virt-a57-gicv3-smp4-2g.dtb",
            "virt-a53-devices.dtb",
            "virt-a53-secure.dtb",
            "virt-a53-virtualization.dtb",
            "virt-a53-secure-virt.dtb",
            "virt-max-gicv3-el2-smp2-1g.dtb",
            "virt-a53-kernel-append-initrd.dtb",
            "virt-a53-numa2.dtb",
            "virt-a57-smp1-5g.dtb",
            "virt-a53-smp1-512m-bios.dtb",
            "virt-a53-smp1-512m-uboot-passed.dtb",
            "virt-a53-smp1-512m-uboot-qfw-initrd-passed.dtb",
        ],
        console: "PL011 at 0x09000000 (stdout-path \"/pl011@9000000\"), QEMU -serial stdio / -nographic",
        boot: &[
            BootMethod {
                format: ImageFormat::QemuKernel,
                verified: true,
                steps: &[
                    IMAGE_HEADER,
                    "qemu-system-aarch64 -M virt -cpu cortex-a53 -smp 2 -m 512M -nographic -kernel Image [-initrd initrd.cpio] [-append \"...\"]",
                    "QEMU loads the Image at 0x40200000 and enters it at EL1 (EL2 with virtualization=on) with the DTB address in x0",
                    "add -semihosting-config enable=on,target=native to get an exit status from the guest",
                ],
            },
            BootMethod {
                format: ImageFormat::UBootScript,
                verified: true,
                steps: &[
                    IMAGE_HEADER,
                    "make a raw disk: MBR with one bootable FAT32 partition (type 0x0c) holding /Image and /boot.scr (mkimage -T script from u-boot-tools); mtools/sfdisk, no root needed",
                    "boot.scr: load virtio 0:1 ${kernel_addr_r} Image; booti ${kernel_addr_r} - ${fdtcontroladdr}",
                    "qemu-system-aarch64 -M virt -cpu cortex-a53 -m 512M -nographic -nic none -bios /usr/lib/u-boot/qemu_arm64/u-boot.bin -drive if=none,id=d0,file=disk.img,format=raw -device virtio-blk-device,drive=d0",
                ],
            },
        ],
        quirks: &[
            "x0 is the only reliable DTB pointer: 0x44000000 with 128M, 0x48000000 with >=256M, after an -initrd 2 MiB aligned, 0x40000000 with -bios, near the top of RAM after U-Boot; always check the magic",
            "link and load the kernel at >= 0x40200000: with an ELF -kernel at 0x40080000 QEMU 7.2 placed no DTB at 0x40000000",
            "totalsize is 0x100000 with -kernel (mostly free space) and 0x2000 after U-Boot: reserve totalsize bytes",
            "PSCI via hvc; smc with virtualization=on (kernel entered at EL2); secure=on trees have no /psci node although CPUs say enable-method psci",
            "GICv2 (arm,cortex-a15-gic) by default, GICv3 (arm,gic-v3, redistributors at 0x080a0000) with gic-version=3",
            "secure=on adds a disabled memory node secram@e000000 (secure RAM): honour status",
            "32 virtio-mmio transports are always listed at 0x0a000000 + n*0x200 (SPI 16+n); the device type comes from each transport, ramfb and virtio-gpu are not in the tree",
            "NUMA trees list memory nodes unsorted; -m 5G puts RAM above 4 GiB (64-bit sizes)",
            "-kernel gives 1-cell linux,initrd-start/end, U-Boot 2-cell values plus a /memreserve/ entry for the initrd",
            "-bios (firmware) trees lack pl061 and gpio-keys; U-Boot adds /chosen bootargs and u-boot,version",
            "U-Boot: booti without an FDT argument resets in a loop; -bios + -kernel without -initrd passes a bogus initrd; -nic none avoids a DHCP/PXE wait",
            "rng-seed and kaslr-seed in /chosen change on every run",
            "generic timer runs at 62.5 MHz; -icount shift=0 makes time deterministic",
        ],
    },
    BoardProfile {
        name: "raspi3b",
        description: "Raspberry Pi 3 Model B (BCM2837, 4x Cortex-A53, no GIC, spin-table SMP), emulated by QEMU -M raspi3b",
        qemu_machine: Some(&["-M", "raspi3b"]),
        dtbs: &["bcm2837-rpi-3-b.dtb", "bcm2837-rpi-3-b-qemu-passed.dtb"],
        console: "mini-UART (brcm,bcm2835-aux-uart) at 0x3f215040 = stdout-path serial1, which QEMU wires to the SECOND -serial; the PL011 at 0x3f201000 is the first",
        boot: &[BootMethod {
            format: ImageFormat::QemuKernel,
            verified: true,
            steps: &[
                IMAGE_HEADER,
                "qemu-system-aarch64 -M raspi3b -kernel Image -dtb bcm2837-rpi-3-b.dtb -serial null -serial stdio -nographic",
                "QEMU loads the Image at 0x200000 and enters it at EL2 with the DTB at 0x08000000 in x0",
                "QEMU never exits by itself here: use a timeout or semihosting",
            ],
        }],
        quirks: &[
            "without -dtb, x0 = 0x100 holds ATAGS, not an FDT: check the magic",
            "no GIC: brcm,bcm2836-armctrl-ic is the root controller, chained to the per-core brcm,bcm2836-l1-intc at 0x40000000, which also delivers the timer (2-cell specifiers)",
            "no PSCI: secondary cores wait on spin-table release addresses 0xd8, 0xe0, 0xe8, 0xf0; /cpus enable-method brcm,bcm2836-smp is the 32-bit method",
            "peripheral bus addresses 0x7eXXXXXX map to CPU 0x3fXXXXXX through /soc ranges",
            "QEMU rewrites /memory to 0x3c000000 bytes at 0x0 and grows totalsize (free space)",
            "/memreserve/ 0x0+0x1000 (spin-table page and firmware stub); /reserved-memory has a dynamic 64 MiB linux,cma pool",
            "timer compatible is only arm,armv7-timer although the cores are Cortex-A53",
            "real-board boot (firmware or U-Boot from the SD card) has not been measured yet",
        ],
    },
    BoardProfile {
        name: "pinephone",
        description: "Pine64 PinePhone 1.2 (Allwinner A64, 4x Cortex-A53, GIC-400, PSCI via smc): real hardware only",
        qemu_machine: None,
        dtbs: &["sun50i-a64-pinephone-1.2.dtb"],
        console: "UART0 (snps,dw-apb-uart, reg-shift 2, reg-io-width 4) at 0x01c28000, 115200 8N1 on the headphone-jack serial adapter",
        boot: &[BootMethod {
            format: ImageFormat::UBootScript,
            verified: false,
            steps: &[
                IMAGE_HEADER,
                "SD card: a FAT partition holding /Image, /sun50i-a64-pinephone-1.2.dtb and /boot.scr (mkimage -T script -d boot.cmd boot.scr), after U-Boot at the start of the card",
                "boot.cmd: load mmc 0:1 ${kernel_addr_r} Image; load mmc 0:1 ${fdt_addr_r} sun50i-a64-pinephone-1.2.dtb; booti ${kernel_addr_r} - ${fdt_addr_r}",
                "U-Boot adds /memory and fills in the simple-framebuffer node when it set up the panel",
            ],
        }],
        quirks: &[
            "the shipped tree has no memory node: the boot loader must add it",
            "PSCI 0.2 via smc; GIC-400 at 0x01c81000",
            "console UART is 16550-compatible with reg-shift 2 and reg-io-width 4 (32-bit registers at 4-byte stride)",
            "simple-framebuffer nodes /chosen/framebuffer-lcd and -hdmi are disabled with no reg until U-Boot fills them in",
            "timer has allwinner,erratum-unknown1 (unstable counter reads) and no always-on",
            "the boot steps have not been verified on hardware yet",
        ],
    },
    BoardProfile {
        name: "android-fastboot",
        description: "Template for phones with an Android (fastboot) boot loader, e.g. Qualcomm devices; no DTB in this repository yet",
        qemu_machine: None,
        dtbs: &[],
        console: "device specific (often none: use the framebuffer or USB)",
        boot: &[BootMethod {
            format: ImageFormat::AndroidBootImage,
            verified: false,
            steps: &[
                IMAGE_HEADER,
                "mkbootimg --kernel Image --ramdisk initrd.cpio.gz --dtb board.dtb --header_version 2 --cmdline \"...\" -o boot.img (header v0-v3 work, v4 is not supported by mkbootimg 29)",
                "fastboot boot boot.img to try it once, fastboot flash boot boot.img to install",
                "unpack_bootimg --boot_img boot.img --out out/ gives back kernel, ramdisk and dtb byte-identical (check before flashing)",
            ],
        }],
        quirks: &[
            "mkbootimg defaults: base 0x10000000, kernel_offset 0x8000, ramdisk_offset 0x01000000, tags 0x100, dtb_offset 0x01f00000, pagesize 2048; phones often use base 0x80000000 or 0, and many boot loaders ignore the header addresses",
            "older Qualcomm boot loaders want Image.gz with the DTB appended and a header v0 image",
            "img2simg/simg2img convert raw partition images to and from Android sparse images for fastboot flash",
        ],
    },
];

/// Every known board.
pub fn all() -> &'static [BoardProfile] {
    &PROFILES
}

/// The board called `name`.
pub fn by_name(name: &str) -> Option<&'static BoardProfile> {
    PROFILES.iter().find(|p| p.name == name)
}
