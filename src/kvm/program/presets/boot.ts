// Boot-like presets: a confidential guest boots private, shares a bounce buffer with an
// explicit conversion, does I/O through it, and takes it back.
import type { Preset } from './preset.js'
import {
  BUFFERS, BUFFER_STRIDE, KERNEL, MiB, KiB, VIRTIO_ISR, VIRTIO_NOTIFY
} from './layout.js'

const SHARED = BUFFER_STRIDE / 4096 // the whole 4 MiB buffer, in pages

/** Four round trips through a shared buffer at `buf`: fill it, kick the device, read back. */
const ioThrough = (buf: number, vcpuStride: number): Preset['program'] => [{
  op: 'repeat',
  count: 4,
  body: [
    { op: 'write', gpa: buf, size: 512, private: false, vcpu_stride: vcpuStride },
    { op: 'out', port: VIRTIO_NOTIFY, size: 2, value: 0 },
    { op: 'in', port: VIRTIO_ISR, size: 1 },
    { op: 'read', gpa: buf + 2 * MiB, size: 512, private: false, vcpu_stride: vcpuStride }
  ]
}]

export const TDX_BOOT: Preset = {
  name: 'tdx-boot',
  description: 'A TD boots private, shares a 4 MiB bounce buffer with one MapGPA (KVM splits it into 2 MiB chunks), ' +
    'does virtio-style port I/O through it, then maps it private again. vCPU n uses the buffer at 1 GiB + n * 4 MiB.',
  types: ['tdx'],
  memory_mib: 2048,
  exits: '2 KVM_EXIT_HYPERCALL (MAP_GPA_RANGE, 512 pages each, to shared), 8 KVM_EXIT_IO (4 x OUT then IN), ' +
    '2 KVM_EXIT_HYPERCALL (512 pages each, to private). A decider that does not convert sees ' +
    'KVM_EXIT_MEMORY_FAULT (EFAULT, flags 0) on the first shared write.',
  program: [
    { op: 'sweep', gpa: KERNEL, size: 2 * MiB, access: 'write', private: true },
    { op: 'map_gpa', gpa: BUFFERS, npages: SHARED, private: false, vcpu_stride: BUFFER_STRIDE },
    ...ioThrough(BUFFERS, BUFFER_STRIDE),
    { op: 'map_gpa', gpa: BUFFERS, npages: SHARED, private: true, vcpu_stride: BUFFER_STRIDE }
  ]
}

// SNP gives each vCPU 8 MiB: the GHCB page, a small 4 KiB-entry area, and a 2 MiB-aligned buffer.
const SNP_STRIDE = 8 * MiB
const GHCB = BUFFERS
const SMALL = BUFFERS + 64 * KiB
const BUFFER = BUFFERS + 4 * MiB

export const SNP_BOOT: Preset = {
  name: 'snp-boot',
  description: 'An SNP guest boots private, shares its GHCB page with the MSR protocol (one page per exit), ' +
    'shares 16 pages and a 4 MiB buffer with GHCB page state changes (KVM merges adjacent entries into one exit), ' +
    'does port I/O through the buffer, then makes it private again. vCPU n uses 1 GiB + n * 8 MiB.',
  types: ['snp'],
  memory_mib: 3072,
  exits: '1 KVM_EXIT_HYPERCALL (MSR protocol, 1 page, to shared), 1 KVM_EXIT_HYPERCALL (GHCB, 16 x 4 KiB merged), ' +
    '1 KVM_EXIT_HYPERCALL (GHCB, 2 x 2 MiB merged: 1024 pages, PAGE_SZ_2M), 8 KVM_EXIT_IO (4 x OUT then IN), ' +
    '1 KVM_EXIT_HYPERCALL (1024 pages, 2M, to private).',
  program: [
    { op: 'sweep', gpa: KERNEL, size: 2 * MiB, access: 'write', private: true },
    { op: 'map_gpa', gpa: GHCB, npages: 1, private: false, protocol: 'msr', vcpu_stride: SNP_STRIDE },
    { op: 'map_gpa', gpa: SMALL, npages: 16, private: false, protocol: 'ghcb', vcpu_stride: SNP_STRIDE },
    { op: 'map_gpa', gpa: BUFFER, npages: SHARED, private: false, page_size: '2m', vcpu_stride: SNP_STRIDE },
    ...ioThrough(BUFFER, SNP_STRIDE),
    { op: 'map_gpa', gpa: BUFFER, npages: SHARED, private: true, page_size: '2m', vcpu_stride: SNP_STRIDE }
  ]
}
