# U-Boot boot script for Nimbus under QEMU virt (Debian's u-boot-qemu).
#
# `cargo xtask` compiles it to boot.scr (mkimage -T script) and puts it with the Image on the
# FAT32 partition of a virtio disk; U-Boot's distro boot finds /boot.scr by itself.
# Always pass the FDT address to booti: `booti ADDR -` alone makes this U-Boot reset.
# ${fdtcontroladdr} is U-Boot's own relocated copy of QEMU's tree.
echo "boot.scr: loading /Image from virtio 0:1"
load virtio 0:1 ${kernel_addr_r} Image
booti ${kernel_addr_r} - ${fdtcontroladdr}
