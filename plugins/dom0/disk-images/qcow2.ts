/** qcow2 images as qemu-img makes them (versions 2 and 3): reads through L1/L2, allocation and copy-on-write on writes, all metadata written through. */
import { constants as zlib, inflateRawSync } from 'node:zlib';
import type { GuestError } from '../../../core/api/index.js';
import { imageError, type ImageFile } from './file.js';
import { ImageBase, zeroBuffer, type ImageReader } from './image.js';
import { ClusterMap, Kind, ZERO_FLAG } from './qcow2-map.js';
import { HEADER, INCOMPAT_CORRUPT, INCOMPAT_DIRTY, type Qcow2Header } from './qcow2-header.js';
import { Refcounts } from './qcow2-refcount.js';
import { tablesIn, type Table } from './table-cache.js';

/** Tuning of one open qcow2 image. */
export interface Qcow2Options {
  /** Bytes of L2 tables to keep cached (bounded to 4..4096 tables). */
  readonly l2CacheBytes: number;
  /** Bytes of refcount blocks to keep cached (bounded to 4..256 blocks). */
  readonly refcountCacheBytes: number;
}

/** Defaults: 4 MiB of L2 tables map 32 GiB of a disk with 64 KiB clusters. */
export const DEFAULT_QCOW2_OPTIONS: Qcow2Options = { l2CacheBytes: 4 << 20, refcountCacheBytes: 1 << 20 };

/**
 * One open qcow2 image. Every write reaches the file before the call returns, in an order that keeps
 * the image consistent if the process dies between any two of them: a cluster's contents, then its
 * refcount, then the table entry that points to it; old clusters are released last (a crash leaks
 * them at worst, which `qemu-img check` reports as leaks, not errors).
 */
export class Qcow2Image extends ImageBase {
  readonly format = 'qcow2' as const;
  private readonly map: ClusterMap;
  private readonly refcounts: Refcounts | undefined;
  private readonly cs: number;
  private scratch: Uint8Array | undefined;
  private compressedIn: Uint8Array | undefined;
  private inflated: Uint8Array | undefined;
  private inflatedHi = 0;
  private inflatedLo = 0;
  private inflatedValid = false;
  private headerReady: boolean;
  private corrupt = false;

  constructor(
    file: ImageFile,
    private readonly header: Qcow2Header,
    private readonly backing: ImageReader | undefined,
    options: Qcow2Options = DEFAULT_QCOW2_OPTIONS,
    onClose?: () => void,
  ) {
    super(file, header.size, onClose);
    this.cs = header.clusterSize;
    if (!file.readOnly && (header.incompatible & (1 << INCOMPAT_CORRUPT)) !== 0) {
      throw imageError(file.path, 'EROFS', "qcow2 image is marked corrupt: open it read-only, or repair it with 'qemu-img check -r all'");
    }
    if (!file.readOnly && (header.incompatible & (1 << INCOMPAT_DIRTY)) !== 0) {
      throw imageError(file.path, 'EROFS', "qcow2 image is dirty (lazy refcounts not written back): open it read-only, or repair it with 'qemu-img check -r all'");
    }
    this.headerReady = !header.autoclear;
    const markCorrupt = (detail: string) => this.markCorrupt(detail);
    this.map = new ClusterMap(file, header, markCorrupt, tablesIn(options.l2CacheBytes, this.cs, 4, 4096));
    if (!file.readOnly) {
      const l1First = header.l1Offset / this.cs;
      const l1End = Math.ceil((header.l1Offset + header.l1Size * 8) / this.cs);
      this.refcounts = new Refcounts(file, {
        header,
        reserved: (cluster) => cluster === 0 || (cluster >= l1First && cluster < l1End),
        corrupt: markCorrupt,
        cachedBlocks: tablesIn(options.refcountCacheBytes, this.cs, 4, 256),
      });
    }
  }

  override files(): string[] {
    return [...super.files(), ...(this.backing?.files() ?? [])];
  }

  readAt(offset: number, into: Uint8Array, intoOffset: number, length: number): void {
    const cs = this.cs;
    const map = this.map;
    let runHost = 0;
    let runAt = 0;
    let runLength = 0;
    for (let done = 0; done < length; ) {
      const position = offset + done;
      const inCluster = position % cs;
      const chunk = Math.min(cs - inCluster, length - done);
      const at = intoOffset + done;
      const kind = map.lookup((position - inCluster) / cs);
      if (kind === Kind.Normal) {
        const host = map.host + inCluster;
        if (runLength > 0 && runHost + runLength === host) {
          runLength += chunk;
        } else {
          if (runLength > 0) this.file.readZeroFill(into, runAt, runLength, runHost);
          runHost = host;
          runAt = at;
          runLength = chunk;
        }
      } else {
        if (runLength > 0) this.file.readZeroFill(into, runAt, runLength, runHost);
        runLength = 0;
        if (kind === Kind.Compressed) into.set(this.inflate().subarray(inCluster, inCluster + chunk), at);
        else if (kind === Kind.Unallocated) this.readBacking(position, into, at, chunk);
        else into.fill(0, at, at + chunk);
      }
      done += chunk;
    }
    if (runLength > 0) this.file.readZeroFill(into, runAt, runLength, runHost);
  }

  protected writeAt(offset: number, data: Uint8Array, dataOffset: number, length: number): void {
    const refcounts = this.beginUpdate();
    const cs = this.cs;
    const map = this.map;
    for (let done = 0; done < length; ) {
      const position = offset + done;
      const inCluster = position % cs;
      const chunk = Math.min(cs - inCluster, length - done);
      const cluster = (position - inCluster) / cs;
      const table = map.writableL2(Math.floor(cluster / map.l2Entries), refcounts);
      const index = cluster % map.l2Entries;
      const kind = map.decode(table, index);
      if (kind === Kind.Normal && map.copied) {
        this.file.writeAt(data, dataOffset + done, chunk, map.host + inCluster);
      } else {
        this.rewriteCluster(refcounts, table, index, kind, cluster, inCluster, data, dataOffset + done, chunk);
      }
      done += chunk;
    }
  }

  /**
   * The range reads as zeros afterwards. Clusters wholly inside it stop using space: version 3 images
   * with a backing file mark them zero (so the backing file does not show through), others
   * unallocate them. Partly covered clusters, and whole ones of a version 2 image with a backing
   * file (which cannot say "zeros" without data), get zeros written.
   */
  protected discardRange(offset: number, length: number): void {
    const refcounts = this.beginUpdate();
    const cs = this.cs;
    const map = this.map;
    const first = Math.ceil(offset / cs);
    const end = Math.floor((offset + length) / cs);
    if (first > end) return this.zeroPart(offset, length);
    if (first * cs > offset) this.zeroPart(offset, first * cs - offset);
    const backed = this.backing !== undefined;
    for (let cluster = first; cluster < end; cluster++) {
      if (!backed && !map.hasL2(cluster)) {
        cluster = Math.min(end, (Math.floor(cluster / map.l2Entries) + 1) * map.l2Entries) - 1;
        continue;
      }
      if (backed && this.header.version === 2) {
        this.zeroPart(cluster * cs, cs);
        continue;
      }
      const kind = map.lookup(cluster);
      if ((kind === Kind.Unallocated && !backed) || (kind === Kind.Zero && map.host === 0)) continue;
      const table = map.writableL2(Math.floor(cluster / map.l2Entries), refcounts);
      const index = cluster % map.l2Entries;
      map.decode(table, index);
      const { host, hi, lo } = map;
      map.setL2(table, index, 0, backed ? ZERO_FLAG : 0);
      this.release(refcounts, kind, host, hi, lo);
    }
    if (offset + length > end * cs) this.zeroPart(end * cs, offset + length - end * cs);
  }

  /** Zeros written over part of one cluster, unless it reads as zeros already. */
  private zeroPart(position: number, length: number): void {
    const kind = this.map.lookup(Math.floor(position / this.cs));
    if ((kind === Kind.Unallocated && this.backing === undefined) || kind === Kind.Zero) return;
    this.writeAt(position, zeroBuffer(length), 0, length);
  }

  protected override closeFiles(): void {
    super.closeFiles();
    this.map.clear();
    this.backing?.close();
    this.scratch = this.compressedIn = this.inflated = undefined;
  }

  /** A cluster that is not ours to overwrite in place: its new contents go to a fresh cluster (or to its preallocated one). */
  private rewriteCluster(refcounts: Refcounts, table: Table, index: number, kind: Kind, cluster: number, inCluster: number, data: Uint8Array, dataOffset: number, length: number): void {
    const map = this.map;
    const cs = this.cs;
    const { host, hi, lo } = map;
    const owned = host !== 0 && (kind === Kind.Normal || kind === Kind.Zero) && (map.copied || refcounts.get(host / cs) === 1);
    let source = data;
    let sourceOffset = dataOffset;
    if (length < cs) {
      source = this.scratch ??= new Uint8Array(cs);
      sourceOffset = 0;
      this.readCluster(kind, cluster, host, source);
      source.set(data.subarray(dataOffset, dataOffset + length), inCluster);
    }
    if (owned) {
      this.file.writeAt(source, sourceOffset, cs, host);
      map.setL2(table, index, host);
      return;
    }
    const fresh = refcounts.allocate();
    this.file.writeAt(source, sourceOffset, cs, fresh * cs);
    refcounts.adjust(fresh, +1);
    map.setL2(table, index, fresh * cs);
    this.release(refcounts, kind, host, hi, lo);
  }

  /** The current contents of guest cluster `cluster`, whose entry was just decoded. */
  private readCluster(kind: Kind, cluster: number, host: number, into: Uint8Array): void {
    if (kind === Kind.Normal) this.file.readZeroFill(into, 0, this.cs, host);
    else if (kind === Kind.Compressed) into.set(this.inflate());
    else if (kind === Kind.Unallocated) this.readBacking(cluster * this.cs, into, 0, this.cs);
    else into.fill(0);
  }

  /** Drops this L2 reference to a cluster (refcount − 1), or to every host cluster compressed data touches. */
  private release(refcounts: Refcounts, kind: Kind, host: number, hi: number, lo: number): void {
    if ((kind === Kind.Normal || kind === Kind.Zero) && host !== 0) {
      refcounts.adjust(host / this.cs, -1);
    } else if (kind === Kind.Compressed) {
      this.map.hi = hi;
      this.map.lo = lo;
      const [start, bytes] = this.map.compressedRange();
      const last = Math.floor((start + bytes - 1) / this.cs);
      for (let c = Math.floor(start / this.cs); c <= last; c++) refcounts.adjust(c, -1);
      this.inflatedValid = false;
    }
  }

  private readBacking(position: number, into: Uint8Array, at: number, length: number): void {
    const available = this.backing === undefined ? 0 : Math.max(0, Math.min(length, this.backing.size - position));
    if (available > 0) this.backing!.readAt(position, into, at, available);
    if (available < length) into.fill(0, at + available, at + length);
  }

  /** The cluster the last decoded (compressed) entry holds, inflated; the last one is kept. */
  private inflate(): Uint8Array {
    const map = this.map;
    if (this.inflatedValid && this.inflatedHi === map.hi && this.inflatedLo === map.lo && this.inflated !== undefined) return this.inflated;
    const [offset, length] = map.compressedRange();
    const input = (this.compressedIn ??= new Uint8Array(2 * this.cs));
    const readable = Math.max(0, Math.min(length, this.file.size - offset));
    this.file.readZeroFill(input, 0, readable, offset);
    let out: Uint8Array;
    try {
      out = inflateRawSync(input.subarray(0, readable), { finishFlush: zlib.Z_SYNC_FLUSH, chunkSize: this.cs, maxOutputLength: 2 * this.cs });
    } catch (cause) {
      throw this.markCorrupt(`compressed cluster at ${offset} does not inflate: ${cause instanceof Error ? cause.message : String(cause)}`);
    }
    if (out.length < this.cs) throw this.markCorrupt(`compressed cluster at ${offset} inflates to ${out.length} bytes, not ${this.cs}`);
    const inflated = (this.inflated ??= new Uint8Array(this.cs));
    inflated.set(out.subarray(0, this.cs));
    this.inflatedHi = map.hi;
    this.inflatedLo = map.lo;
    this.inflatedValid = true;
    return inflated;
  }

  /** Before the first change: refuse if corrupt, and clear autoclear bits we do not maintain (QEMU's bitmaps). */
  private beginUpdate(): Refcounts {
    if (this.refcounts === undefined) throw imageError(this.path, 'EROFS', 'opened read-only');
    if (this.corrupt) throw imageError(this.path, 'EIO', 'qcow2 image is marked corrupt; writes are refused');
    if (!this.headerReady) {
      this.file.writeAt(new Uint8Array(8), 0, 8, HEADER.autoclearFeatures);
      this.headerReady = true;
    }
    return this.refcounts;
  }

  /** Metadata is inconsistent: stop writing, and (v3, read-write) set the corrupt bit as QEMU does. */
  private markCorrupt(detail: string): GuestError {
    const first = !this.corrupt;
    this.corrupt = true;
    if (first && !this.readOnly && this.header.version === 3) {
      const bits = new Uint8Array(8);
      new DataView(bits.buffer).setUint32(4, this.header.incompatible | (1 << INCOMPAT_CORRUPT));
      try {
        this.file.writeAt(bits, 0, 8, HEADER.incompatibleFeatures);
        this.file.sync();
      } catch {
        // The image is already unusable for writing; the error below says why.
      }
    }
    return imageError(this.path, 'EIO', `corrupt qcow2 metadata: ${detail}`);
  }
}
