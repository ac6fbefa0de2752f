// Addresses the presets share, so their docs and their tests name the same numbers.

export const KiB = 1024
export const MiB = 1024 * KiB
export const GiB = 1024 * MiB

/** Where a guest kernel's text and data sit: private from boot. */
export const KERNEL = 1 * MiB
/** Per-vCPU bounce buffers and conversion targets start here, 4 MiB per vCPU. */
export const BUFFERS = 1 * GiB
export const BUFFER_STRIDE = 4 * MiB
/** A device's MMIO window: no memslot covers it, so a shared access there exits as MMIO. */
export const MMIO_BASE = 0xfeb00000

/** Ports of a legacy virtio-pci device (QUEUE_NOTIFY, ISR status), a 16550 UART and PCI config. */
export const VIRTIO_NOTIFY = 0xc050
export const VIRTIO_ISR = 0xc053
export const UART_THR = 0x3f8
export const UART_LSR = 0x3fd
export const PCI_CONFIG_ADDRESS = 0xcf8
export const PCI_CONFIG_DATA = 0xcfc
/** The POST code port: a cheap, always-exiting checkpoint. */
export const POST_PORT = 0x80
