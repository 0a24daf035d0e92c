/** The qcow2 header and its extensions (QEMU's docs/interop/qcow2.txt), read and checked before anything else is trusted. */
import { SECTOR_SIZE } from '../../../core/api/index.js';
import { imageError, type ImageFile } from './file.js';

/** 'QFI\xfb', big-endian, at offset 0. */
export const QCOW2_MAGIC = 0x514649fb;

/** Byte offsets of the header fields we rewrite. */
export const HEADER = {
  refcountTableOffset: 48,
  refcountTableClusters: 56,
  incompatibleFeatures: 72,
  autoclearFeatures: 88,
} as const;

const V2_HEADER_LENGTH = 72;
const V3_MIN_HEADER_LENGTH = 104;

/** Incompatible feature bits (bit numbers). */
export const INCOMPAT_DIRTY = 0;
export const INCOMPAT_CORRUPT = 1;
const INCOMPAT_DATA_FILE = 2;
const INCOMPAT_COMPRESSION = 3;
const INCOMPAT_EXTL2 = 4;
const SUPPORTED_INCOMPAT = (1 << INCOMPAT_DIRTY) | (1 << INCOMPAT_CORRUPT) | (1 << INCOMPAT_COMPRESSION);
const INCOMPAT_NAMES: Record<number, string> = {
  [INCOMPAT_DATA_FILE]: 'external data file',
  [INCOMPAT_COMPRESSION]: 'compression type',
  [INCOMPAT_EXTL2]: 'extended L2 entries',
};

const EXT_END = 0;
const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_FEATURE_NAMES = 0x6803f857;
const FEATURE_NAME_ENTRY = 48;

/** QEMU's limits, which we share so that every image we accept QEMU opens too. */
export const MAX_L1_BYTES = 32 << 20;
export const MAX_REFCOUNT_TABLE_BYTES = 8 << 20;
const MAX_BACKING_NAME = 1023;

/** A checked qcow2 header. Offsets are bytes in the image file. */
export interface Qcow2Header {
  readonly version: 2 | 3;
  readonly clusterBits: number;
  readonly clusterSize: number;
  /** Virtual disk size in bytes. */
  readonly size: number;
  readonly l1Size: number;
  readonly l1Offset: number;
  readonly refcountTableOffset: number;
  readonly refcountTableClusters: number;
  readonly refcountOrder: number;
  readonly snapshots: number;
  /** Incompatible feature bits as a number (only bits 0-4 can be set once the header is accepted). */
  readonly incompatible: number;
  /** Whether any autoclear bit is set (we support none, so a writer clears them all). */
  readonly autoclear: boolean;
  readonly backingFile?: string;
  /** From the backing file format extension, when present. */
  readonly backingFormat?: string;
}

/** A 64-bit big-endian field as a number, or `undefined` past 2^53. */
function u64(view: DataView, offset: number): number | undefined {
  const hi = view.getUint32(offset);
  return hi >= 0x200000 ? undefined : hi * 0x1_0000_0000 + view.getUint32(offset + 4);
}

/** Names of set bits of an incompatible-features field, from the image's own feature name table first. */
function featureNames(hi: number, lo: number, table: Map<number, string>): string {
  const names: string[] = [];
  for (let bit = 0; bit < 64; bit++) {
    const set = bit < 32 ? (lo >>> bit) & 1 : (hi >>> (bit - 32)) & 1;
    if (set === 1) names.push(table.get(bit) ?? INCOMPAT_NAMES[bit] ?? `bit ${bit}`);
  }
  return names.join(', ');
}

/** Reads and checks the header of `file`: `EINVAL` naming the file for anything we cannot serve safely. */
export function readQcow2Header(file: ImageFile): Qcow2Header {
  const bad = (detail: string) => imageError(file.path, 'EINVAL', detail);
  if (file.size < V2_HEADER_LENGTH) throw bad(`truncated qcow2 header (${file.size} bytes)`);
  const head = new Uint8Array(V3_MIN_HEADER_LENGTH);
  file.readZeroFill(head, 0, head.length, 0);
  const h = new DataView(head.buffer);
  if (h.getUint32(0) !== QCOW2_MAGIC) throw bad('not a qcow2 image (bad magic)');
  const version = h.getUint32(4);
  if (version !== 2 && version !== 3) throw bad(`unsupported qcow2 version ${version}`);
  const clusterBits = h.getUint32(20);
  if (clusterBits < 9 || clusterBits > 21) throw bad(`cluster_bits ${clusterBits} is outside 9..21 (512 B..2 MiB clusters)`);
  const clusterSize = 2 ** clusterBits;
  const headerLength = version === 2 ? V2_HEADER_LENGTH : h.getUint32(100);
  if (version === 3 && file.size < V3_MIN_HEADER_LENGTH) throw bad(`truncated qcow2 header (${file.size} bytes)`);
  if (version === 3 && (headerLength < V3_MIN_HEADER_LENGTH || headerLength % 8 !== 0 || headerLength > clusterSize)) {
    throw bad(`invalid qcow2 header length ${headerLength}`);
  }
  const cluster0 = new Uint8Array(Math.min(clusterSize, file.size));
  file.readFully(cluster0, 0, cluster0.length, 0, 'qcow2 header cluster');
  const c0 = new DataView(cluster0.buffer);
  if (headerLength > cluster0.length) throw bad(`truncated qcow2 header (${file.size} bytes)`);

  const size = u64(h, 24);
  if (size === undefined || size % SECTOR_SIZE !== 0) throw bad(`virtual size ${size ?? 'over 2^53'} is not a multiple of ${SECTOR_SIZE} bytes`);
  const cryptMethod = h.getUint32(32);
  if (cryptMethod !== 0) throw bad(`encrypted qcow2 images (crypt_method ${cryptMethod}) are not supported`);

  const backingOffset = u64(h, 8) ?? Infinity;
  const backingSize = h.getUint32(16);
  let backingFile: string | undefined;
  if (backingOffset !== 0) {
    if (backingSize > MAX_BACKING_NAME || backingOffset + backingSize > cluster0.length) throw bad('invalid backing file name location');
    backingFile = new TextDecoder().decode(cluster0.subarray(backingOffset, backingOffset + backingSize));
    if (backingFile === '') throw bad('empty backing file name');
  }

  // Header extensions: from the end of the header up to the backing file name (or the end of cluster 0).
  const extEnd = backingOffset !== 0 ? backingOffset : cluster0.length;
  let backingFormat: string | undefined;
  const names = new Map<number, string>();
  for (let at = headerLength; at < extEnd; ) {
    if (extEnd - at < 8) throw bad('truncated header extension');
    const type = c0.getUint32(at);
    const length = c0.getUint32(at + 4);
    at += 8;
    if (type === EXT_END) break;
    if (length > extEnd - at) throw bad(`header extension 0x${type.toString(16)} is longer than the header cluster`);
    const data = cluster0.subarray(at, at + length);
    if (type === EXT_BACKING_FORMAT) backingFormat = new TextDecoder().decode(data);
    if (type === EXT_FEATURE_NAMES) {
      for (let e = 0; e + FEATURE_NAME_ENTRY <= length; e += FEATURE_NAME_ENTRY) {
        if (data[e] !== 0) continue;
        const text = new TextDecoder().decode(data.subarray(e + 2, e + FEATURE_NAME_ENTRY)).replace(/\0.*$/s, '');
        names.set(data[e + 1] ?? 0, text);
      }
    }
    at += (length + 7) & ~7;
  }

  let incompatible = 0;
  let autoclear = false;
  let refcountOrder = 4;
  if (version === 3) {
    const hi = h.getUint32(72);
    const lo = h.getUint32(76);
    const unknownLo = (lo & ~SUPPORTED_INCOMPAT) >>> 0;
    if (hi !== 0 || unknownLo !== 0) {
      const mask = BigInt(hi) * 0x1_0000_0000n + BigInt(unknownLo);
      throw bad(`unsupported incompatible qcow2 features 0x${mask.toString(16)} (${featureNames(hi, unknownLo, names)})`);
    }
    incompatible = lo;
    if ((lo & (1 << INCOMPAT_COMPRESSION)) !== 0) {
      const type = headerLength > 104 ? c0.getUint8(104) : 0;
      if (type !== 0) throw bad(`unsupported compression type ${type === 1 ? 'zstd' : type} (only zlib)`);
    }
    autoclear = h.getUint32(88) !== 0 || h.getUint32(92) !== 0;
    refcountOrder = h.getUint32(96);
    if (refcountOrder > 6) throw bad(`refcount_order ${refcountOrder} is over 6`);
  }

  const l1Size = h.getUint32(36);
  const l1Offset = u64(h, 40) ?? Infinity;
  const l2Span = (clusterSize / 8) * clusterSize;
  if (l1Size * 8 > MAX_L1_BYTES) throw bad(`L1 table of ${l1Size} entries is over ${MAX_L1_BYTES} bytes`);
  if (l1Size * l2Span < size) throw bad(`L1 table of ${l1Size} entries does not cover the virtual size ${size}`);
  if (l1Size > 0 && (l1Offset % clusterSize !== 0 || l1Offset === 0)) throw bad(`L1 table offset ${l1Offset} is not cluster-aligned`);
  if (l1Size > 0 && l1Offset + l1Size * 8 > file.size) throw bad(`L1 table at offset ${l1Offset} lies past the end of the file (${file.size} bytes)`);

  const refcountTableOffset = u64(h, 48) ?? Infinity;
  const refcountTableClusters = h.getUint32(56);
  if (refcountTableClusters === 0 || refcountTableClusters * clusterSize > MAX_REFCOUNT_TABLE_BYTES) {
    throw bad(`refcount table of ${refcountTableClusters} clusters is empty or over ${MAX_REFCOUNT_TABLE_BYTES} bytes`);
  }
  if (refcountTableOffset % clusterSize !== 0 || refcountTableOffset === 0) throw bad(`refcount table offset ${refcountTableOffset} is not cluster-aligned`);
  if (refcountTableOffset + refcountTableClusters * clusterSize > file.size) {
    throw bad(`refcount table at offset ${refcountTableOffset} lies past the end of the file (${file.size} bytes)`);
  }

  return {
    version,
    clusterBits,
    clusterSize,
    size,
    l1Size,
    l1Offset,
    refcountTableOffset,
    refcountTableClusters,
    refcountOrder,
    snapshots: h.getUint32(60),
    incompatible,
    autoclear,
    ...(backingFile !== undefined ? { backingFile } : {}),
    ...(backingFormat !== undefined ? { backingFormat } : {}),
  };
}
