/** The generic kernel on the PV builder's initial tables (paging on): it maps the shared-info page with update_va_mapping and waits for events through it. */
import { afterEach, expect, it } from 'vitest';
import type { Host } from '../../../../core/host/host.js';
import { PvMm } from '../../../../core/api/index.js';
import type { MachineFrame } from '../../../../core/public/index.js';
import { ConsoleBackend, bootHost, record, runUntil } from './helpers.js';

let host: Host | undefined;
afterEach(async () => {
  await host?.shutdown();
  host = undefined;
});

it('maps start_info.shared_info at a free frame and waits with SCHEDOP_block and SCHEDOP_poll instead of the tick', async () => {
  ({ host } = await bootHost([{ name: 'g', type: 'pv', cmdline: 'console=xc0' }]));
  const h = host;
  expect(runUntil(h, () => h.toolstack?.list().some((d) => d.name === 'g') ?? false, 1e9)).toBe(true);
  const console = ConsoleBackend.attach(h, 'g');
  expect(runUntil(h, () => console.output.endsWith('# '), 1e9)).toBe(true);
  const at = /XEN: shared info page at 0x([0-9a-f]+)/.exec(console.output);
  expect(at).not.toBeNull();
  expect(console.output).toContain('XEN: waiting for events with SCHEDOP_block when idle, SCHEDOP_poll on ports');
  const domid = record(h, 'g').domid;
  const shared = h.sharedInfoOf(domid)!;
  // The kernel's mapping holds the page's one writable reference; reading through it sees Xen's page.
  expect(h.container.resolve(PvMm).pageInfo(shared.mfn as MachineFrame)).toEqual({ type: 'writable', typeCount: 1, pinned: false });
  shared.view.setUint32(3072, 0x5a5a1234, true); // wc_version
  expect(h.guestAccessOf(domid, 0)!.readU32(parseInt(at![1]!, 16) + 3072)).toBe(0x5a5a1234);
});
