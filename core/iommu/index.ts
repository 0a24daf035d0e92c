/** The IOMMU: DMA remapping through each owner's P2M, with a fault log. */
export * from './iommu.js';
