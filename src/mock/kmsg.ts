// The kernel log as /dev/kmsg shows it (Documentation/ABI/testing/dev-kmsg):
// one record per read(2), `prio,seq,usec,flag;message\n` where prio is
// facility << 3 | level, followed for dev_printk() records by dictionary lines
// ` SUBSYSTEM=pci` and ` DEVICE=+pci:0000:03:00.0`. Non-printable bytes in the
// message are escaped as \xNN (kernel/printk/printk.c msg_print_ext_body).

export interface KmsgRecord {
  readonly prio: number;
  readonly seq: number;
  readonly usec: bigint;
  readonly text: string;
  readonly dict: readonly string[];
}

export interface KmsgState {
  nextSeq: number;
  records: KmsgRecord[];
}

/** Oldest records fall off like the ring buffer's (log_buf_len 128 KiB holds a few thousand). */
const CAPACITY = 8192;

function escape(text: string): string {
  let out = '';
  for (const c of Buffer.from(text, 'utf8')) {
    if (c < 0x20 || c >= 0x7f || c === 0x5c) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += String.fromCharCode(c);
  }
  return out;
}

export class Kmsg {
  private records: KmsgRecord[] = [];
  private nextSeq = 0;

  constructor(private readonly now: () => bigint) {}

  /**
   * printk of one line. `facility` 0 is the kernel; userspace writes to
   * /dev/kmsg get 1 (LOG_USER) unless they name another (devkmsg_write).
   */
  append(level: number, text: string, dict: readonly string[] = [], facility = 0): void {
    this.records.push({ prio: (facility << 3) | level, seq: this.nextSeq++, usec: this.now(), text, dict });
    if (this.records.length > CAPACITY) this.records.splice(0, this.records.length - CAPACITY);
  }

  /** devkmsg_write: an optional `<N>` prefix sets level and facility; default level 4 (default_message_loglevel), facility user. */
  writeUser(data: string): void {
    let line = data.endsWith('\n') ? data.slice(0, -1) : data;
    let level = 4;
    let facility = 1;
    const m = /^<(\d+)>/.exec(line);
    if (m) {
      const u = Number(m[1]);
      level = u & 7;
      if (u >> 3 !== 0) facility = u >> 3;
      line = line.slice(m[0].length);
    }
    this.append(level, line, [], facility);
  }

  /** What consecutive read(2)s return, from the oldest record still in the buffer. */
  formatted(): string[] {
    return this.records.map((r) => {
      const head = `${r.prio},${r.seq},${r.usec},-;${escape(r.text)}\n`;
      return r.dict.length === 0 ? head : head + r.dict.map((d) => ` ${d}\n`).join('');
    });
  }

  all(): readonly KmsgRecord[] {
    return this.records;
  }

  save(): KmsgState {
    return { nextSeq: this.nextSeq, records: this.records.map((r) => ({ ...r })) };
  }

  load(state: KmsgState): void {
    this.nextSeq = state.nextSeq;
    this.records = state.records.map((r) => ({ ...r, usec: BigInt(r.usec) }));
  }
}
