/** Interrupt hardware: local APICs, the APIC bus, IO-APICs with GSI routing, and MSI. */
export * from './apic-defs.js';
export * from './interrupt-registers.js';
export * from './apic-timer.js';
export * from './apic-access.js';
export * from './local-apic.js';
export * from './apic-bus.js';
export * from './io-apic.js';
export * from './gsi-router.js';
export * from './msi.js';
