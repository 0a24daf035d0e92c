/** Which of a guest's disks become emulated IDE disks: libxl's rule for the `disk=` entries of an HVM guest. */
import type { DiskSpec, ImageFormat } from '../../../core/api/index.js';

/** A disk on the IDE buses: index 0 primary master, 1 primary slave, 2 secondary master, 3 secondary slave. */
export interface IdeDiskSlot {
  readonly index: number;
  readonly spec: DiskSpec;
}

/** Whole-disk vdevs the IDE buses take, with the disk index their letter gives. */
const IDE_VDEV = /^(?:hd([a-d])|xvd([a-d])|sd([a-d]))$/;

/**
 * The IDE disks of `disks`: `hd[a-d]`, `xvd[a-d]` and `sd[a-d]` at disk index < 4 (a vdev names one
 * slot; the first entry for a slot wins). `skipped` says why the others are left out: CD-ROM drives
 * (ATAPI is not emulated) and slots taken twice. Other vdevs are PV-only and left out silently.
 */
export function ideDisks(disks: readonly DiskSpec[]): { slots: IdeDiskSlot[]; skipped: string[] } {
  const slots: IdeDiskSlot[] = [];
  const skipped: string[] = [];
  for (const spec of disks) {
    const m = IDE_VDEV.exec(spec.vdev);
    if (m === null) continue;
    const letter = m[1] ?? m[2] ?? m[3]!;
    const index = letter.charCodeAt(0) - 0x61;
    if (spec.devtype === 'cdrom') {
      skipped.push(`${spec.vdev}: CD-ROM drives (ATAPI) are not emulated`);
      continue;
    }
    const taken = slots.find((s) => s.index === index);
    if (taken !== undefined) {
      skipped.push(`${spec.vdev}: IDE slot ${index} is taken by ${taken.spec.vdev}`);
      continue;
    }
    slots.push({ index, spec });
  }
  return { slots: slots.sort((a, b) => a.index - b.index), skipped };
}

/** The image format to open a disk spec with; throws for formats the image layer does not read. */
export function imageFormat(spec: DiskSpec): ImageFormat {
  if (spec.format === 'raw' || spec.format === 'qcow2') return spec.format;
  throw new Error(`disk ${spec.vdev} (${spec.target}): format ${spec.format} is not supported by the emulated IDE disks (raw or qcow2)`);
}
