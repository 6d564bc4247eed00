// dma-fences and DRM syncobjs (drivers/gpu/drm/drm_syncobj.c) as far as the
// model needs them. The model's GPU finishes a job inside the EXEC ioctl, so
// every fence exists already signalled (with an error after an engine reset);
// what can still be waited for is a syncobj that has no fence yet
// (DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT).

export class Fence {
  /** 0, or the negative errno the job ended with (dma_fence_set_error) */
  constructor(readonly error = 0) {}
}

/** dma_fence_get_stub(): the signalled fence of CREATE_SIGNALED and of "nothing pending". */
export const STUB_FENCE = new Fence();

export class Syncobj {
  private current: Fence | null;
  /** Timeline points (drm_syncobj_add_point): value -> fence, highest last. */
  private points: { value: bigint; fence: Fence }[] = [];
  private waiters = new Set<() => void>();

  constructor(signaled: boolean) {
    this.current = signaled ? STUB_FENCE : null;
  }

  get fence(): Fence | null {
    return this.current;
  }

  /** drm_syncobj_replace_fence */
  replace(fence: Fence): void {
    this.current = fence;
    this.points = [];
    this.notify();
  }

  /** drm_syncobj_add_point: a timeline point; the syncobj's fence becomes the chain's head. */
  addPoint(value: bigint, fence: Fence): void {
    this.points.push({ value, fence });
    this.current = fence;
    this.notify();
  }

  /** dma_fence_chain_find_seqno: the fence of point `value`; EINVAL beyond the last point. */
  pointFence(value: bigint): Fence | 'einval' {
    if (value === 0n) return this.current ?? 'einval';
    const last = this.points[this.points.length - 1];
    if (!last || last.value < value) return 'einval';
    return this.points.find((p) => p.value >= value)!.fence;
  }

  onChange(cb: () => void): () => void {
    this.waiters.add(cb);
    return () => this.waiters.delete(cb);
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** Nanoseconds on CLOCK_MONOTONIC, the clock DRM and xe timeouts are given in (libuv's hrtime is CLOCK_MONOTONIC). */
export function monotonicNs(): bigint {
  return process.hrtime.bigint();
}

/** setTimeout for a bigint nanosecond delay, chained past setTimeout's 2^31-1 ms limit. */
export function sleepNs(ns: bigint, cb: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  const deadline = monotonicNs() + ns;
  const arm = (): void => {
    const left = deadline - monotonicNs();
    if (left <= 0n) {
      cb();
      return;
    }
    const ms = left / 1_000_000n + 1n;
    timer = setTimeout(arm, Number(ms > 2_147_483_647n ? 2_147_483_647n : ms));
  };
  arm();
  return () => {
    if (timer) clearTimeout(timer);
  };
}
