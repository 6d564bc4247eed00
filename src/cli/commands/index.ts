// The command table. Each entry adds one subcommand to `program`, returns it
// (so global options are added to it too), and reports its exit status through
// `setStatus`.
import type { Command } from 'commander';
import { registerBind, registerUnbind } from './bind.js';
import { registerCapture } from './capture.js';
import { registerCompletion } from './completion.js';
import { registerDoctor } from './doctor.js';
import { registerProfiles } from './profiles.js';
import { registerProvision } from './provision.js';
import { registerReport } from './report.js';
import { registerQemu } from './qemu.js';
import { registerRestore } from './restore.js';
import { registerRun } from './run.js';
import { registerSetup } from './setup.js';
import { registerTopology } from './topology.js';
import { registerVfs } from './vfs.js';

export type Register = (program: Command, setStatus: (code: number) => void) => Command;

export const commands: Register[] = [
  registerDoctor,
  registerTopology,
  registerVfs,
  registerProvision,
  registerBind,
  registerUnbind,
  registerSetup,
  registerRestore,
  registerCapture,
  registerRun,
  registerReport,
  registerProfiles,
  registerQemu,
  registerCompletion,
];
