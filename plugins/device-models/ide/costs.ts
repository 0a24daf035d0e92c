/** What the emulated disk's work costs Dom0, beyond the cost model's `emulatedIo` per ioreq and `copyPerByte` per byte moved. */

/** Cycles of one request through the device model's block layer to the image (QEMU's blk_aio path and a pread/pwrite). */
export const IMAGE_REQUEST_CYCLES = 15_000;
