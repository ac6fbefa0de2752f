// Load presets: many conversions, or almost nothing but I/O exits.
import type { Preset } from './preset.js'
import {
  BUFFERS, BUFFER_STRIDE, MMIO_BASE, PCI_CONFIG_ADDRESS, PCI_CONFIG_DATA, UART_LSR, UART_THR
} from './layout.js'

export const CONVERSION_STORM: Preset = {
  name: 'conversion-storm',
  description: 'Flips one page shared and back 32 times with explicit MapGPA, then makes 10,000 seeded random steps ' +
    'over its own 4 MiB (half of them one-page conversions, half accesses in either state). ' +
    'vCPU n uses 1 GiB + n * 4 MiB.',
  types: ['sw_protected', 'snp', 'tdx'],
  memory_mib: 2048,
  exits: '64 KVM_EXIT_HYPERCALL (1 page each, alternating to shared and to private), then about 5,000 ' +
    'KVM_EXIT_HYPERCALL and, on snp/tdx, about 2,500 KVM_EXIT_MEMORY_FAULT (EFAULT) interleaved, as the seed decides.',
  program: [
    {
      op: 'repeat',
      count: 32,
      body: [
        { op: 'map_gpa', gpa: BUFFERS, npages: 1, private: false, vcpu_stride: BUFFER_STRIDE },
        { op: 'write', gpa: BUFFERS, private: false, vcpu_stride: BUFFER_STRIDE },
        { op: 'map_gpa', gpa: BUFFERS, npages: 1, private: true, vcpu_stride: BUFFER_STRIDE },
        { op: 'write', gpa: BUFFERS, private: true, vcpu_stride: BUFFER_STRIDE }
      ]
    },
    {
      op: 'random',
      count: 10000,
      gpa: BUFFERS,
      size: BUFFER_STRIDE,
      private_ratio: 0.5,
      write_ratio: 0.5,
      map_ratio: 0.5,
      vcpu_stride: BUFFER_STRIDE
    }
  ]
}

// Each vCPU has its own device page in the MMIO window (256 vCPUs stay below the IOAPIC).
const DEVICE_STRIDE = 4096

export const IO_HEAVY: Preset = {
  name: 'io-heavy',
  description: '1,000 rounds of a UART write and status read, an MMIO doorbell write and status read ' +
    '(MMIO window at 0xfeb00000 + n * 4 KiB, outside memory), and a PCI config cycle. No memory faults.',
  types: ['default', 'sw_protected', 'snp', 'tdx'],
  memory_mib: 256,
  exits: '6,000 exits, 1,000 times in order: KVM_EXIT_IO (OUT 0x3f8), KVM_EXIT_IO (IN 0x3fd), KVM_EXIT_MMIO (write, 4 bytes), ' +
    'KVM_EXIT_MMIO (read, 4 bytes), KVM_EXIT_IO (OUT 0xcf8, 4 bytes), KVM_EXIT_IO (IN 0xcfc, 4 bytes).',
  program: [{
    op: 'repeat',
    count: 1000,
    body: [
      { op: 'out', port: UART_THR, size: 1, value: 0x2e },
      { op: 'in', port: UART_LSR, size: 1 },
      { op: 'mmio_write', gpa: MMIO_BASE, len: 4, value: 1, vcpu_stride: DEVICE_STRIDE },
      { op: 'mmio_read', gpa: MMIO_BASE + 4, len: 4, vcpu_stride: DEVICE_STRIDE },
      { op: 'out', port: PCI_CONFIG_ADDRESS, size: 4, value: 0x80000000 },
      { op: 'in', port: PCI_CONFIG_DATA, size: 4 }
    ]
  }]
}
