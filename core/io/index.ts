/** Port-I/O and MMIO buses, and the registrar device models claim ranges with. */
export * from './range-table.js';
export * from './io-bus.js';
export * from './mmio-bus.js';
export * from './io-registrar.js';
