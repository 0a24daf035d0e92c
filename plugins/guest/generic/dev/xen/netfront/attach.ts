/** netfront's place on xenbusb_front: a `vif` node becomes an `xn` interface. */
import { setFrontend, type FrontendDriver } from '../frontend.js';
import { Netfront } from './netfront.js';

export const netfrontDriver: FrontendDriver = {
  device: 'xn',
  driver: (node) => ({
    name: 'xn',
    description: 'Virtual Network Interface',
    *attach(k, dev) {
      const nic = new Netfront(k, dev, node);
      setFrontend(dev, nic);
      yield* nic.attach();
    },
  }),
};
