// The xe DRM device of the mock kernel. The platform creates one driver per
// PF that xe binds, calls bind()/unbind() as xe probes and is removed, and
// reads liveObjects() for its counts. Everything the device does goes
// through the platform's interfaces (../contracts.ts).
//
//   const xe = createXeDriver(platform, pf);   // when xe binds the PF
//   xe.bind();                                  // /dev/dri/card0, /dev/dri/renderD128 appear
//   ...
//   xe.unbind();                                // nodes go; open files get ENODEV
//   xe.processExit(pid);                        // at a process's exit, after its fds are closed

import type { MockPlatform, PciDevice } from '../contracts.js';
import { XeDevice, type XeLiveObjects } from './device.js';

export type { XeLiveObjects } from './device.js';

export interface XeDriverOptions {
  /** DRM minor index: card<minor> and renderD<128 + minor> (default 0). */
  minor?: number;
}

export interface XeDriver {
  readonly pf: PciDevice;
  /** The /dev/dri nodes this device registers while bound. */
  readonly nodes: readonly string[];
  readonly bound: boolean;
  /** xe probe: registers the DRM minors through platform.addCharDevice. */
  bind(): void;
  /** xe remove: removes the minors; files still open fail every ioctl with ENODEV (drm_dev_unplug). */
  unbind(): void;
  /** Live objects for the platform's counts. */
  liveObjects(): XeLiveObjects;
  /** Exit of process `pid`: unmaps its CPU mappings of BOs (the fd table closes the files). */
  processExit(pid: number): void;
}

export function createXeDriver(platform: MockPlatform, pf: PciDevice, options: XeDriverOptions = {}): XeDriver {
  if (!platform.xePf(pf)) throw new TypeError(`createXeDriver: ${pf.bdf} is not an xe PF`);
  return new XeDevice(platform, pf, options.minor ?? 0);
}
