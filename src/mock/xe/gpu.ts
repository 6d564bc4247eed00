// The GPU: a command streamer that runs a batch buffer through a VM's page
// tables. It knows the MI commands of kernel-abi §8 (MI_NOOP,
// MI_BATCH_BUFFER_END, MI_STORE_DATA_IMM dword/qword, MI_COPY_MEM_MEM with the
// destination first). PTEs reach VRAM by DPA, system memory and imported
// pages on the bus, or translated DPAs of an IOV import (import.ts).
//
// An access to an unmapped address in a VM without a scratch page is a page
// fault the kernel cannot service outside fault mode: the GuC reports a
// memory CAT error and resets the engine; an unknown or privileged command
// hangs the engine until the job times out. Either way the batch stops, the
// queue is banned and the kernel log says what xe says (xe_guc_submit.c).

import { LogLevel } from '../contracts.js';
import type { XeDevice } from './device.js';
import { PAGE, VM_SIZE } from './hw.js';
import { errnoOf } from './kerror.js';
import { Fence } from './sync.js';
import type { XeVm } from './vm.js';
import type { ExecQueue } from './queue.js';

/** Upper bound on commands per batch: a batch that never ends is a hang, like the TDR's timeout. */
const MAX_COMMANDS = 1 << 24;

const SDI_GGTT = 1 << 22;
const COPY_SRC_GGTT = 1 << 22;
const COPY_DST_GGTT = 1 << 21;

export type JobOutcome = { status: 'done' } | { status: 'fault'; va: number; write: boolean } | { status: 'hang'; why: string };

/** What the GPU sees of one VM: reads and writes by virtual address; null/false is a fault. */
export class GpuView {
  constructor(private readonly vm: XeVm) {}

  read(va: number, length: number): Uint8Array | null {
    const out = new Uint8Array(length);
    return this.access(va, length, (piece, pos, rd) => out.set(rd(piece), pos)) ? out : null;
  }

  write(va: number, data: Uint8Array): boolean {
    return this.access(va, data.byteLength, (piece, pos, _rd, wr) => wr(data.subarray(pos, pos + piece)), true);
  }

  private access(
    va: number,
    length: number,
    each: (piece: number, pos: number, rd: (n: number) => Uint8Array, wr: (d: Uint8Array) => void) => void,
    write = false,
  ): boolean {
    if (va < 0 || va + length > VM_SIZE) return false;
    let pos = 0;
    while (pos < length) {
      const cur = va + pos;
      const vma = this.vm.find(cur);
      if (!vma) {
        const scratch = this.vm.scratch;
        if (!scratch) return false;
        const at = cur % PAGE;
        const piece = Math.min(length - pos, PAGE - at);
        each(
          piece,
          pos,
          (n) => scratch.slice(at, at + n),
          (d) => scratch.set(d, at),
        );
        pos += piece;
        continue;
      }
      const piece = Math.min(length - pos, vma.end - cur);
      const off = vma.objOffset + (cur - vma.start);
      if (write && vma.readOnly) return false;
      if (vma.isNull) {
        each(
          piece,
          pos,
          (n) => new Uint8Array(n),
          () => undefined,
        );
      } else if (vma.userptr) {
        const m = vma.userptr.mapping;
        const at = vma.userptr.offset + (cur - vma.start);
        each(
          piece,
          pos,
          (n) => m.kernelRead(at, n),
          (d) => m.kernelWrite(at, d),
        );
      } else if (vma.bo) {
        const bo = vma.bo;
        const imp = bo.imported;
        if (imp && !imp.usable) {
          // Only a fault-mode VM maps on demand (the page-fault handler validates the BO).
          if (!this.vm.faultMode) return false;
          try {
            imp.validate();
          } catch (e) {
            if (errnoOf(e) === null) throw e;
            return false;
          }
        }
        each(
          piece,
          pos,
          (n) => (imp ? imp.read(off, n) : bo.read(off, n)),
          (d) => (imp ? imp.write(off, d) : bo.write(off, d)),
        );
      } else {
        return false;
      }
      pos += piece;
    }
    return true;
  }
}

function dw(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** Execute the batch at `batchVa`; writes land as the commands run, up to a fault or a hang. */
export function runBatch(view: GpuView, batchVa: number): JobOutcome {
  let pc = batchVa;
  let page: Uint8Array | null = null;
  let pageVa = -1;
  const fetch = (va: number): number | null => {
    const base = va - (va % PAGE);
    if (base !== pageVa) {
      page = view.read(base, PAGE);
      pageVa = page ? base : -1;
      if (!page) return null;
    }
    return dw(page!, va - base);
  };
  for (let n = 0; n < MAX_COMMANDS; n++) {
    const header = fetch(pc);
    if (header === null) return { status: 'fault', va: pc, write: false };
    const client = header >>> 29;
    const opcode = (header >>> 23) & 0x3f;
    if (client !== 0) return { status: 'hang', why: `non-MI command 0x${header.toString(16).padStart(8, '0')}` };
    if (opcode === 0x00) {
      pc += 4;
      continue;
    }
    if (opcode === 0x0a) return { status: 'done' };
    const args: number[] = [];
    const take = (count: number): boolean => {
      for (let i = 1; i <= count; i++) {
        const v = fetch(pc + 4 * i);
        if (v === null) return false;
        args.push(v);
      }
      return true;
    };
    if (opcode === 0x20) {
      // MI_STORE_DATA_IMM: dword length = total - 2; bit 21 store qword; bit 22 GGTT (privileged).
      const len = header & 0x3ff;
      if (header & SDI_GGTT) return { status: 'hang', why: 'MI_STORE_DATA_IMM to the GGTT from a PPGTT batch' };
      if (len < 2) return { status: 'hang', why: `MI_STORE_DATA_IMM with dword length ${len}` };
      if (!take(len + 1)) return { status: 'fault', va: pc, write: false };
      const qword = (header & (1 << 21)) !== 0;
      const addr = args[1]! * 2 ** 32 + args[0]! - (args[0]! & (qword ? 7 : 3));
      const data = new Uint8Array(4 * (len - 1));
      const dv = new DataView(data.buffer);
      for (let i = 0; i < len - 1; i++) dv.setUint32(4 * i, args[2 + i]!, true);
      if (!view.write(addr, data)) return { status: 'fault', va: addr, write: true };
      pc += 4 * (len + 2);
      continue;
    }
    if (opcode === 0x2e) {
      // MI_COPY_MEM_MEM: dst lo/hi, src lo/hi; one dword (kernel-abi §8).
      const len = header & 0xff;
      if (header & (COPY_SRC_GGTT | COPY_DST_GGTT)) return { status: 'hang', why: 'MI_COPY_MEM_MEM with a GGTT address from a PPGTT batch' };
      if (len !== 3) return { status: 'hang', why: `MI_COPY_MEM_MEM with dword length ${len}` };
      if (!take(4)) return { status: 'fault', va: pc, write: false };
      const dst = args[1]! * 2 ** 32 + ((args[0]! & ~3) >>> 0);
      const src = args[3]! * 2 ** 32 + ((args[2]! & ~3) >>> 0);
      const word = view.read(src, 4);
      if (!word) return { status: 'fault', va: src, write: false };
      if (!view.write(dst, word)) return { status: 'fault', va: dst, write: true };
      pc += 20;
      continue;
    }
    return { status: 'hang', why: `unknown MI opcode 0x${opcode.toString(16)} (header 0x${header.toString(16).padStart(8, '0')})` };
  }
  return { status: 'hang', why: `no MI_BATCH_BUFFER_END after ${MAX_COMMANDS} commands` };
}

/**
 * One job on an exec queue: run the batch, then the ring's user-fence store
 * (emit_store_imm_ppgtt_posted after the batch). A fault or a hang resets
 * the engine, bans the queue and signals the job's fence with an error.
 */
export function runJob(dev: XeDevice, queue: ExecQueue, vm: XeVm, batchVa: number, userFence: { va: number; value: bigint } | null): Fence {
  const view = new GpuView(vm);
  let outcome = runBatch(view, batchVa);
  const seqno = queue.nextSeqno();
  if (outcome.status === 'done' && userFence) {
    const v = new Uint8Array(8);
    new DataView(v.buffer).setBigUint64(0, userFence.value, true);
    if (!view.write(userFence.va, v)) outcome = { status: 'fault', va: userFence.va, write: true };
  }
  dev.wakeUserFenceWaiters();
  if (outcome.status === 'done') return new Fence();
  queue.reset = true;
  const gt = `GT${queue.engine.gtId}`;
  const mask = `0x${(1 << queue.engine.instance).toString(16)}`;
  const k = dev.platform.kernel;
  // drm_dbg-level details (the pagefault dump, "Engine memory cat error") are off by default.
  dev.log(LogLevel.INFO, `[drm] ${gt}: Engine reset: engine_class=${queue.engine.className}, logical_mask: ${mask}, guc_id=${queue.gucId}`);
  dev.log(LogLevel.NOTICE, `[drm] ${gt}: Timedout job: seqno=${seqno}, lrc_seqno=${seqno}, guc_id=${queue.gucId}, flags=0x0 in ${k.comm} [${k.pid}]`);
  dev.log(LogLevel.INFO, '[drm] Xe device coredump has been created');
  dev.log(LogLevel.INFO, `[drm] Check your /sys/class/drm/card${dev.minor}/device/devcoredump/data`);
  dev.lastJobFailure = outcome;
  // guc_exec_queue_timedout_job sets -ETIME on the job before signalling it.
  return new Fence(-62);
}
