// Tracefs objects iovh processes left behind: kprobe groups and ftrace
// instances named `iovh_<pid>_<n>` (tracefs.ts TraceSession). A scenario
// process removes its own in its cleanups; one the kernel killed (an oops),
// or that iovh had to kill, cannot, and its probes would stay defined and
// enabled in its instance until someone removes them (nothing else does:
// the kernel keeps kprobe events and instances until they are deleted). The
// runner removes those of each scenario process once it has ended, and `iovh
// run` and `iovh doctor` remove those of any iovh process that is no longer
// alive (its /proc/<pid> is gone).
//
// Order (kernel/trace/trace_kprobe.c, trace.c): a kprobe event cannot be
// deleted while it is enabled in any instance (EBUSY), and removing an
// instance disables every event in it (__remove_instance ->
// event_trace_del_tracer). So: disable the owner's events in its instance,
// remove the instance, then delete the probe definitions.

import type { Backend, FileOps } from '../backend/types.js';
import type { Check } from '../host/doctor.js';
import { codeOf } from './monitors.js';

/** Where tracefs is mounted (Documentation/trace/ftrace.rst: /sys/kernel/tracing, or under debugfs on older setups). */
const TRACEFS_ROOTS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

const NAME = /^iovh_(\d+)_\d+$/;
/** A kprobe_events line: `p:group/event sym ...`, `r:group/event ...`, `r16:group/event ...` (kprobetrace.rst). */
const PROBE_LINE = /^[pr]\d*:([^/\s]+)\/(\S+)\s/;

export interface Leftovers {
  /** Instances named after an owner pid. */
  instances: { name: string; pid: number }[];
  /** Probe definitions in groups named after an owner pid. */
  probes: { group: string; event: string; pid: number }[];
}

export function tracefsRoot(fs: FileOps): string | null {
  return TRACEFS_ROOTS.find((r) => fs.exists(`${r}/kprobe_events`)) ?? null;
}

/** Every iovh_<pid>_<n> instance and probe in tracefs at `root`. Unreadable parts are left out (cleanup is best effort). */
export function findLeftovers(fs: FileOps, root: string): Leftovers & { unreadable: string[] } {
  const out: Leftovers & { unreadable: string[] } = { instances: [], probes: [], unreadable: [] };
  try {
    for (const name of fs.readdir(`${root}/instances`)) {
      const m = NAME.exec(name);
      if (m) out.instances.push({ name, pid: Number(m[1]) });
    }
  } catch (e) {
    if (codeOf(e) !== 'ENOENT') out.unreadable.push(`${root}/instances: ${codeOf(e)}`);
  }
  try {
    for (const line of fs.readText(`${root}/kprobe_events`).split('\n')) {
      const m = PROBE_LINE.exec(line);
      if (!m) continue;
      const owner = NAME.exec(m[1]!);
      if (owner) out.probes.push({ group: m[1]!, event: m[2]!, pid: Number(owner[1]) });
    }
  } catch (e) {
    out.unreadable.push(`${root}/kprobe_events: ${codeOf(e)}`);
  }
  return out;
}

export interface Removal {
  /** What was removed, as `kprobe group G (N probes)` and `instance I`. */
  removed: string[];
  /** What could not be removed or read, with the errno. */
  failed: string[];
  /** The owner pids concerned. */
  pids: number[];
}

/** Remove the leftovers whose owner pid `owned` accepts. */
export function removeLeftovers(fs: FileOps, root: string, owned: (pid: number) => boolean): Removal {
  const found = findLeftovers(fs, root);
  const instances = found.instances.filter((i) => owned(i.pid));
  const probes = found.probes.filter((p) => owned(p.pid));
  const removal: Removal = {
    removed: [],
    failed: [...found.unreadable],
    pids: [...new Set([...instances.map((i) => i.pid), ...probes.map((p) => p.pid)])].sort((a, b) => a - b),
  };
  for (const inst of instances) {
    const dir = `${root}/instances/${inst.name}`;
    for (const p of probes) {
      try {
        if (fs.readText(`${dir}/events/${p.group}/${p.event}/enable`).trim() !== '0')
          fs.writeFile(`${dir}/events/${p.group}/${p.event}/enable`, '0');
      } catch (e) {
        // ENOENT: that group's events are not in this instance. Anything else, the rmdir below disables them anyway.
        if (codeOf(e) !== 'ENOENT') removal.failed.push(`disable ${p.group}/${p.event} in ${inst.name}: ${codeOf(e)}`);
      }
    }
    try {
      fs.rmdir(dir);
      removal.removed.push(`instance ${inst.name}`);
    } catch (e) {
      removal.failed.push(`instance ${inst.name}: ${codeOf(e)}`);
    }
  }
  const groups = new Map<string, number>();
  for (const p of probes) {
    try {
      fs.writeFile(`${root}/kprobe_events`, `-:${p.group}/${p.event}\n`, { append: true });
      groups.set(p.group, (groups.get(p.group) ?? 0) + 1);
    } catch (e) {
      removal.failed.push(`kprobe ${p.group}/${p.event}: ${codeOf(e)}`);
    }
  }
  for (const [group, n] of groups) removal.removed.push(`kprobe group ${group} (${n} probe${n === 1 ? '' : 's'})`);
  return removal;
}

/** Is the process alive? /proc/<pid> through FileOps, so that the mock answers for its own processes. */
export function processAlive(fs: FileOps, pid: number): boolean {
  return fs.exists(`/proc/${pid}`);
}

/** The pid of the process a backend speaks for (the mock numbers its own), for telling our tracefs objects from a dead run's. */
export function selfPid(b: Backend): number {
  try {
    const pid = Number(b.fs.readlink('/proc/self'));
    if (Number.isInteger(pid) && pid > 0) return pid;
  } catch {
    // A --root fixture tree without /proc/self: this process is the one.
  }
  return process.pid;
}

/**
 * Remove the leftovers of iovh processes that are no longer alive; null when
 * tracefs has no kprobe_events (nothing to look at). `self` is never
 * touched (this process's own sessions are in use).
 */
export function removeStaleLeftovers(fs: FileOps, self: number = process.pid): Removal | null {
  const root = tracefsRoot(fs);
  if (!root) return null;
  return removeLeftovers(fs, root, (pid) => pid !== self && !processAlive(fs, pid));
}

/** One line for a user, or null when nothing was found. */
export function describeRemoval(r: Removal): string | null {
  if (r.removed.length === 0 && r.failed.length === 0) return null;
  const whose = `dead iovh process${r.pids.length === 1 ? '' : 'es'} ${r.pids.join(', ')}`;
  const parts: string[] = [];
  if (r.removed.length > 0) parts.push(`removed tracefs leftovers of ${whose}: ${r.removed.join(', ')}`);
  if (r.failed.length > 0) parts.push(`could not remove ${r.failed.join(', ')}`);
  return parts.join('; ');
}

/**
 * `iovh doctor`'s check: leftovers of dead iovh processes are removed (a
 * later run would find its probes competing with them), and the check says
 * what was found. A warning when there were some: an earlier run died.
 */
export function leftoversCheck(fs: FileOps, self: number): Check {
  const r = removeStaleLeftovers(fs, self);
  if (!r)
    return {
      id: 'tracefs.leftovers',
      status: 'pass',
      detail: 'no tracefs with kprobe_events: nothing an iovh run could have left',
    };
  const line = describeRemoval(r);
  if (!line)
    return {
      id: 'tracefs.leftovers',
      status: 'pass',
      detail: 'no kprobes or trace instances left by dead iovh processes',
    };
  if (r.failed.length === 0)
    return {
      id: 'tracefs.leftovers',
      status: 'warn',
      detail: `an earlier iovh run died (an oops?): ${line}`,
      fix: 'nothing left to do; look for the oops in the kernel log of that run',
    };
  return {
    id: 'tracefs.leftovers',
    status: 'warn',
    detail: line,
    fix: 'run iovh doctor as root to remove them (writes to kprobe_events and rmdir in instances/)',
  };
}
