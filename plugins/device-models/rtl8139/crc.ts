/** Ethernet CRC-32: the frame check sequence a NIC appends, and the big-endian form its multicast hash filter uses. */

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb8_8320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** IEEE 802.3 CRC-32 of `data` (what is sent, least significant byte first, as the FCS). */
export function etherCrc32(data: Uint8Array): number {
  let crc = 0xffff_ffff;
  for (const b of data) crc = TABLE[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffff_ffff) >>> 0;
}

/** FreeBSD's ether_crc32_be over `length` bytes at `offset` (a multicast address): the top 6 bits index the 64-bit hash filter. */
export function etherCrc32Be(data: Uint8Array, offset: number, length: number): number {
  let crc = 0xffff_ffff;
  for (let i = 0; i < length; i++) {
    let byte = data[offset + i]!;
    for (let bit = 0; bit < 8; bit++, byte >>= 1) {
      const carry = (crc >>> 31) ^ (byte & 1);
      crc = (crc << 1) >>> 0;
      if (carry) crc = ((crc ^ 0x04c1_1db6) | carry) >>> 0;
    }
  }
  return crc >>> 0;
}
