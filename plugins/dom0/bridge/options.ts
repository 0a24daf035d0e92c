/** Options of the bridge plugin: the bridges Dom0 has, and how long they remember where a MAC is. */
import { Type, type Static } from '../../../core/api/index.js';

export const BridgeSpec = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,15}$', description: 'The bridge\'s name, as a vifspec\'s `bridge=` names it (a Linux interface name: up to 15 characters).' }),
    pcap: Type.Optional(Type.String({ minLength: 1, description: 'A pcap file to write every frame the bridge forwards to; a relative path is under the run directory.' })),
    mtu: Type.Integer({ minimum: 68, maximum: 65_517, default: 1500, description: 'Largest payload; frames over mtu + 18 bytes (header and a VLAN tag) are counted malformed and dropped.' }),
  },
  { additionalProperties: false },
);
export type BridgeSpec = Static<typeof BridgeSpec>;

export const BridgeOptions = Type.Object(
  {
    bridges: Type.Array(BridgeSpec, { minItems: 1, default: [{ name: 'xenbr0' }], description: 'The bridges, by name (default one, `xenbr0`).' }),
    ageingMs: Type.Integer({ minimum: 0, default: 300_000, description: 'Milliseconds of virtual time a learnt MAC stays in a bridge\'s table without a frame from it (Linux\'s ageing_time, 300 s); 0 learns nothing, so every frame floods.' }),
  },
  { additionalProperties: false, description: 'Dom0\'s software bridges: learning Ethernet switches that netback and emulated NICs plug into, each with an optional pcap capture.' },
);
export type BridgeOptions = Static<typeof BridgeOptions>;
