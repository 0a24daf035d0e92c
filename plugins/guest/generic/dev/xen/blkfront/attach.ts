/** blkfront's place on xenbusb_front: a `vbd` node becomes an `xbd` disk. */
import { setFrontend, type FrontendDriver } from '../frontend.js';
import { Blkfront } from './blkfront.js';

export const blkfrontDriver: FrontendDriver = {
  device: 'xbd',
  driver: (node) => ({
    name: 'xbd',
    description: 'Virtual Block Device',
    *attach(k, dev) {
      const disk = new Blkfront(k, dev, node);
      setFrontend(dev, disk);
      yield* disk.attach();
    },
  }),
};
