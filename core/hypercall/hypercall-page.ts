/** The hypercall page: 128 call stubs of 32 bytes, written the way Xen writes them for each kind of guest. */
import { HYPERCALL_PAGE, HYPERCALL_PAGE_FILL } from '../public/platform.js';
import { Hypercall } from '../public/xen.js';
import type { GuestMode } from '../api/domain.js';

/**
 * Which stubs: `vmx` (Intel HVM/PVH: `mov $nr,%eax; vmcall; ret`), `svm` (AMD: `vmmcall`), or `pv64`
 * (64-bit PV kernels: `push %rcx; push %r11; mov $nr,%eax; syscall; pop %r11; pop %rcx; ret`).
 */
export type HypercallPageKind = 'vmx' | 'svm' | 'pv64';

/** The stubs a guest of `mode` gets on our host, which presents Intel VMX. */
export function hypercallPageKind(mode: GuestMode): HypercallPageKind {
  return mode === 'pv' ? 'pv64' : 'vmx';
}

function u32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = (value >>> 24) & 0xff;
}

/**
 * Xen's `init_hypercall_page`: fills `page` (4096 bytes) with 0xCC (int3), then writes one stub per
 * hypercall number. HVM stubs for `iret` (23) are `ud2`; the PV `iret` stub pushes %rax and does not return.
 */
export function fillHypercallPage(page: Uint8Array, kind: HypercallPageKind): void {
  if (page.length < HYPERCALL_PAGE.size) throw new RangeError(`hypercall page: ${page.length} bytes, need ${HYPERCALL_PAGE.size}`);
  page.fill(HYPERCALL_PAGE_FILL, 0, HYPERCALL_PAGE.size);
  for (let nr = 0; nr < HYPERCALL_PAGE.stubs; nr++) {
    const p = nr * HYPERCALL_PAGE.stubSize;
    if (kind === 'pv64') {
      page.set([0x51, 0x41, 0x53], p); // push %rcx; push %r11
      if (nr === Hypercall.iret) {
        page[p + 3] = 0x50; // push %rax
        page[p + 4] = 0xb8; // mov $nr, %eax
        u32(page, p + 5, nr);
        page.set([0x0f, 0x05], p + 9); // syscall
        continue;
      }
      page[p + 3] = 0xb8;
      u32(page, p + 4, nr);
      page.set([0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3], p + 8); // syscall; pop %r11; pop %rcx; ret
      continue;
    }
    if (nr === Hypercall.iret) {
      page.set([0x0f, 0x0b], p); // ud2: HYPERVISOR_iret is PV-only
      continue;
    }
    page[p] = 0xb8;
    u32(page, p + 1, nr);
    page.set(kind === 'vmx' ? [0x0f, 0x01, 0xc1] : [0x0f, 0x01, 0xd9], p + 5); // vmcall / vmmcall
    page[p + 8] = 0xc3;
  }
}
