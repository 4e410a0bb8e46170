/**
 * What a process costs, read from Linux's /proc: resident memory of a process and its
 * descendants (Gust's runner processes belong to its footprint), and CPU time consumed.
 */

const CLOCK_TICKS = 100; // USER_HZ on Linux, fixed by the kernel ABI

function children(pid: number): number[] {
  try {
    const tasks = [...Deno.readDirSync(`/proc/${pid}/task`)].map((t) => t.name);
    return tasks.flatMap((tid) => {
      try {
        return Deno.readTextFileSync(`/proc/${pid}/task/${tid}/children`).trim().split(/\s+/)
          .filter(Boolean).map(Number);
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

/** The process and all its descendants. */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...children(all[i]));
  return all;
}

/** Resident set size in MiB of one process, 0 when it is gone. */
export function rssMb(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return 0;
  }
}

/** RSS of the process and its descendants, in MiB. */
export function treeRssMb(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + rssMb(p), 0);
}

/** User plus system CPU seconds a process has used so far (not its children's). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15, and cutime and cstime
    // (16, 17) those of its children that ended and were waited for, such as the DAG
    // processor's short-lived import processes; live children are counted on their own.
    return fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** CPU seconds of the process and its live descendants. */
export function treeCpuSeconds(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + cpuSeconds(p), 0);
}

/** Samples a process tree's RSS every `everyMs` until stopped; returns the peak, in MiB. */
export function sampleRss(pids: () => number[], everyMs = 200): { stop(): number } {
  let peak = 0;
  const take = () => {
    const total = pids().reduce((sum, pid) => sum + treeRssMb(pid), 0);
    peak = Math.max(peak, total);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return peak;
    },
  };
}
