// iommufd as an importer, as building blocks for scenarios (docs/iommufd.md).
// iommufd maps a VFIO dma-buf with IOMMU_IOAS_MAP_FILE and is told of a revoke
// through its invalidate_mappings (iopt_revoke_notify); it needs no GPU and
// runs under QEMU, so it is the positive control for revoke triggers: a
// trigger that revokes shows as a notification (a kprobe hit), and whether the
// revoke lasts shows as the answer to a fresh MAP_FILE (ENODEV while revoked).
//
//   const imp = IommufdImporter.open(ctx);          // skips without /dev/iommu
//   const m = imp.import(buf);                       // unmapped by the cleanup stack
//   const w = await watchRevokes(ctx, () => trigger());
//   const now = imp.revokedNow(buf);                 // { revoked, code }
//
// Every object is registered on the cleanup stack when it is made.

import { Iommufd, type Ioas, type IoasMapping, type MapFileOptions } from '../uapi/iommufd.js';
import type { DmaBuf } from '../uapi/dmabuf.js';
import { SystemError } from '../uapi/errors.js';
import { hex } from '../report/model.js';
import type { ProbePoint } from './symbols.js';
import type { ScenarioContext } from './scenario.js';
import { requireCaps } from './steps.js';
import { TraceSession } from './tracefs.js';

/** iommufd's invalidate_mappings (drivers/iommu/iommufd/pages.c): one hit per invalidation of a mapped dma-buf. */
export const REVOKE_PROBE: ProbePoint = {
  key: 'importerRevoke',
  symbol: 'iopt_revoke_notify',
  kind: 'entry',
  fetch: '',
};

/** Skip unless the kernel has /dev/iommu (capability `iommufd`). */
export function requireIommufd(ctx: ScenarioContext): void {
  requireCaps(ctx, 'iommufd');
}

/** An iommufd context and one IOAS of it, closed by the cleanup stack. */
export class IommufdImporter {
  private constructor(
    private readonly ctx: ScenarioContext,
    readonly iommufd: Iommufd,
    readonly ioas: Ioas,
  ) {}

  static open(ctx: ScenarioContext): IommufdImporter {
    requireIommufd(ctx);
    const iommufd = Iommufd.open(ctx.backend);
    ctx.defer('close /dev/iommu', () => iommufd.close());
    const ioas = iommufd.allocIoas();
    return new IommufdImporter(ctx, iommufd, ioas);
  }

  /** IOMMU_IOAS_MAP_FILE of `buf` (the whole dma-buf unless `options.length`); unmapped by the cleanup stack. */
  import(buf: DmaBuf, options: MapFileOptions = {}): IoasMapping {
    const m = this.ioas.map(buf, options);
    this.ctx.defer(`unmap IOVA ${hex(m.iova)} from IOAS ${this.ioas.id}`, () => {
      m.unmap();
    });
    this.ctx.append('iommufdMappings', { ioas: this.ioas.id, iova: hex(m.iova), length: hex(m.length) });
    return m;
  }

  /** import(), with a refusal as its errno instead of an exception. */
  tryImport(buf: DmaBuf, options: MapFileOptions = {}): { mapping: IoasMapping | null; code: string | null } {
    try {
      return { mapping: this.import(buf, options), code: null };
    } catch (e) {
      if (e instanceof SystemError) return { mapping: null, code: e.code };
      throw e;
    }
  }

  /**
   * Is `buf` revoked right now? A fresh MAP_FILE of its first page answers:
   * vfio_pci_dma_buf_attach refuses a revoked dma-buf with ENODEV; a mapping
   * made to ask is unmapped at once.
   */
  revokedNow(buf: DmaBuf): { revoked: boolean; code: string | null } {
    try {
      const m = this.ioas.map(buf, { length: 4096n });
      m.unmap();
      return { revoked: false, code: null };
    } catch (e) {
      if (e instanceof SystemError) return { revoked: e.code === 'ENODEV', code: e.code };
      throw e;
    }
  }
}

export interface RevokeWatch {
  /** iopt_revoke_notify hits of this process while the trigger ran; null when it could not be watched. */
  notifications: number | null;
  /** Why not, when notifications is null. */
  why: string | null;
}

/**
 * Run `trigger` with a kprobe on iopt_revoke_notify armed in a trace session
 * of the scenario's own: how many times iommufd was told to let go. Without
 * tracefs, kprobes or the symbol the trigger still runs and the count is null
 * with the reason (no evidence, never "no revoke").
 */
export async function watchRevokes(ctx: ScenarioContext, trigger: () => unknown): Promise<RevokeWatch> {
  const unavailable = (why: string): RevokeWatch => ({ notifications: null, why });
  let session: TraceSession | null = null;
  let why: string | null = null;
  if (!ctx.caps.caps.tracefs.ok || !ctx.caps.caps.kprobes.ok) {
    why = !ctx.caps.caps.tracefs.ok ? ctx.caps.caps.tracefs.detail : ctx.caps.caps.kprobes.detail;
  } else if (!ctx.caps.tracefsRoot) {
    why = 'no tracefs';
  } else {
    const s = TraceSession.create(ctx.backend.fs, ctx.caps.tracefsRoot, String(ctx.pid));
    session = s;
    ctx.defer('remove the iopt_revoke_notify kprobe and its trace instance', () => s.close());
    s.arm([REVOKE_PROBE], ctx.caps.symbols.symbols);
    if (!s.armedProbes.some((a) => a.point.key === 'importerRevoke'))
      why = s.unavailable.find((u) => u.point.key === 'importerRevoke')?.why ?? 'not armed';
  }
  await trigger();
  if (!session || why) return unavailable(why ?? 'no trace session');
  const read = session.read();
  const n = read.hits.filter((h) => h.key === 'importerRevoke').length;
  if (n === 0 && read.lost > 0) return unavailable(`the trace buffer dropped ${read.lost} entries`);
  return { notifications: n, why: null };
}

/** One line for a RevokeWatch. */
export function describeRevokes(w: RevokeWatch): string {
  return w.notifications === null ? `no trace evidence (${w.why})` : `iopt_revoke_notify ×${w.notifications}`;
}
