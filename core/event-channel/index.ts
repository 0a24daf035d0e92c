/** Event channels, 2-level and FIFO ABIs (Xen's common/event_channel.c, event_2l.c, event_fifo.c): the subsystem factory and its parts. */
export { createEventChannels } from './event-channel.js';
export { EvtchnCore, NR_PIRQS, virqIsGlobal, type Caller } from './operations.js';
export { PortTable, ECS } from './port-table.js';
export { evtchn2l, type EvtchnPortOps } from './two-level.js';
export { evtchnFifo, FifoDomain, FifoVcpu, type MapGuestFrame } from './fifo.js';
export { UpcallDelivery, RecordingHvmIrqSink, decodeCallbackVia, HVM_NR_GSIS, type CallbackVia, type HvmIrqCall } from './upcall.js';
