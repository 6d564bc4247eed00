// The GPU: a command streamer that runs a batch buffer through a VM's page
// tables. It knows the MI commands of docs/kernel.md §8 (MI_NOOP,
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

export type JobOutcome =
  | { status: 'done' }
  | { status: 'fault'; va: number; write: boolean }
  | { status: 'hang'; why: string };

/** What the GPU sees of one VM: reads and writes by virtual address; null/false is a fault. */
export class GpuView {
  constructor(private readonly vm: XeVm) {}

  read(va: number, length: number): Uint8Array | null {
    const out = new Uint8Array(length);
    return this.access(va, out, false) ? out : null;
  }

  write(va: number, data: Uint8Array): boolean {
    return this.access(va, data, true);
  }

  /**
   * Copy between `data` and [va, va + data.length) through the VMAs, piece by
   * piece (a write lands up to the first fault). One path for both directions
   * and no closures: the command streamer calls this once per command.
   */
  private access(va: number, data: Uint8Array, write: boolean): boolean {
    const length = data.byteLength;
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
        if (write) scratch.set(data.subarray(pos, pos + piece), at);
        else data.set(scratch.subarray(at, at + piece), pos);
        pos += piece;
        continue;
      }
      const piece = Math.min(length - pos, vma.end - cur);
      const off = vma.objOffset + (cur - vma.start);
      if (write && vma.readOnly) return false;
      if (vma.isNull) {
        // Reads return zeros, writes are dropped.
        if (!write) data.fill(0, pos, pos + piece);
      } else if (vma.userptr) {
        const m = vma.userptr.mapping;
        const at = vma.userptr.offset + (cur - vma.start);
        if (write) m.kernelWrite(at, data.subarray(pos, pos + piece));
        else data.set(m.kernelRead(at, piece), pos);
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
        const target = imp ?? bo;
        if (write) target.write(off, data.subarray(pos, pos + piece));
        else data.set(target.read(off, piece), pos);
      } else {
        return false;
      }
      pos += piece;
    }
    return true;
  }
}

/** Dwords of a batch as the command streamer fetches them, one page cached at a time. */
class BatchReader {
  private page: DataView | null = null;
  private pageVa = -1;

  constructor(private readonly view: GpuView) {}

  /** The dword at `va`, or null when its page faults. */
  dword(va: number): number | null {
    const base = va - (va % PAGE);
    if (base !== this.pageVa) {
      const bytes = this.view.read(base, PAGE);
      this.page = bytes && new DataView(bytes.buffer);
      this.pageVa = bytes ? base : -1;
      if (!bytes) return null;
    }
    return this.page!.getUint32(va - base, true);
  }
}

/** Execute the batch at `batchVa`; writes land as the commands run, up to a fault or a hang. */
export function runBatch(view: GpuView, batchVa: number): JobOutcome {
  let pc = batchVa;
  const batch = new BatchReader(view);
  // MI_STORE_DATA_IMM's payload, reused from one command to the next (its
  // dword length field has 10 bits): every memory behind a VMA copies what it
  // is given.
  const payload = new DataView(new ArrayBuffer(4 * 0x3ff));
  const payloadBytes = new Uint8Array(payload.buffer);
  for (let n = 0; n < MAX_COMMANDS; n++) {
    const header = batch.dword(pc);
    if (header === null) return { status: 'fault', va: pc, write: false };
    const client = header >>> 29;
    const opcode = (header >>> 23) & 0x3f;
    if (client !== 0) return { status: 'hang', why: `non-MI command 0x${header.toString(16).padStart(8, '0')}` };
    if (opcode === 0x00) {
      pc += 4;
      continue;
    }
    if (opcode === 0x0a) return { status: 'done' };
    if (opcode === 0x20) {
      // MI_STORE_DATA_IMM: dword length = total - 2; bit 21 store qword; bit 22 GGTT (privileged).
      const len = header & 0x3ff;
      if (header & SDI_GGTT) return { status: 'hang', why: 'MI_STORE_DATA_IMM to the GGTT from a PPGTT batch' };
      if (len < 2) return { status: 'hang', why: `MI_STORE_DATA_IMM with dword length ${len}` };
      const lo = batch.dword(pc + 4);
      const hi = batch.dword(pc + 8);
      if (lo === null || hi === null) return { status: 'fault', va: pc, write: false };
      for (let i = 0; i < len - 1; i++) {
        const v = batch.dword(pc + 12 + 4 * i);
        if (v === null) return { status: 'fault', va: pc, write: false };
        payload.setUint32(4 * i, v, true);
      }
      const qword = (header & (1 << 21)) !== 0;
      const addr = hi * 2 ** 32 + lo - (lo & (qword ? 7 : 3));
      if (!view.write(addr, payloadBytes.subarray(0, 4 * (len - 1)))) return { status: 'fault', va: addr, write: true };
      pc += 4 * (len + 2);
      continue;
    }
    if (opcode === 0x2e) {
      // MI_COPY_MEM_MEM: dst lo/hi, src lo/hi; one dword (docs/kernel.md §8).
      const len = header & 0xff;
      if (header & (COPY_SRC_GGTT | COPY_DST_GGTT))
        return { status: 'hang', why: 'MI_COPY_MEM_MEM with a GGTT address from a PPGTT batch' };
      if (len !== 3) return { status: 'hang', why: `MI_COPY_MEM_MEM with dword length ${len}` };
      const dstLo = batch.dword(pc + 4);
      const dstHi = batch.dword(pc + 8);
      const srcLo = batch.dword(pc + 12);
      const srcHi = batch.dword(pc + 16);
      if (dstLo === null || dstHi === null || srcLo === null || srcHi === null)
        return { status: 'fault', va: pc, write: false };
      const dst = dstHi * 2 ** 32 + ((dstLo & ~3) >>> 0);
      const src = srcHi * 2 ** 32 + ((srcLo & ~3) >>> 0);
      const word = view.read(src, 4);
      if (!word) return { status: 'fault', va: src, write: false };
      if (!view.write(dst, word)) return { status: 'fault', va: dst, write: true };
      pc += 20;
      continue;
    }
    return {
      status: 'hang',
      why: `unknown MI opcode 0x${opcode.toString(16)} (header 0x${header.toString(16).padStart(8, '0')})`,
    };
  }
  return { status: 'hang', why: `no MI_BATCH_BUFFER_END after ${MAX_COMMANDS} commands` };
}

/**
 * One job on an exec queue: run the batch, then the ring's user-fence store
 * (emit_store_imm_ppgtt_posted after the batch). A fault or a hang resets
 * the engine, bans the queue and signals the job's fence with an error.
 */
export function runJob(
  dev: XeDevice,
  queue: ExecQueue,
  vm: XeVm,
  batchVa: number,
  userFence: { va: number; value: bigint } | null,
): Fence {
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
  dev.log(
    LogLevel.INFO,
    `[drm] ${gt}: Engine reset: engine_class=${queue.engine.className}, logical_mask: ${mask}, guc_id=${queue.gucId}`,
  );
  dev.log(
    LogLevel.NOTICE,
    `[drm] ${gt}: Timedout job: seqno=${seqno}, lrc_seqno=${seqno}, guc_id=${queue.gucId}, flags=0x0 in ${k.comm} [${k.pid}]`,
  );
  dev.log(LogLevel.INFO, '[drm] Xe device coredump has been created');
  dev.log(LogLevel.INFO, `[drm] Check your /sys/class/drm/card${dev.minor}/device/devcoredump/data`);
  dev.lastJobFailure = outcome;
  // guc_exec_queue_timedout_job sets -ETIME on the job before signalling it.
  return new Fence(-62);
}
