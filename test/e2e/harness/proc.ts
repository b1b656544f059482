/**
 * Linux /proc readings of the processes a `wrangler dev` started (for benchmarks): which processes
 * are workerd, their resident memory and the CPU time they have used. wrangler is spawned in its own
 * process group (see wrangler-dev.ts), so its workerd child is found by that group id.
 */
import { readdirSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";

export interface ProcStat {
  pid: number;
  comm: string;
  pgrp: number;
  /** utime + stime, in milliseconds. */
  cpuMs: number;
}

let ticksPerSecond: number | null = null;

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, 100 on Linux in practice). */
function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** /proc/<pid>/stat, or null when the process is gone. */
export function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // comm is in parentheses and may contain spaces: split after the last ')'.
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  const comm = text.slice(open + 1, close);
  const rest = text.slice(close + 2).split(" ");
  // rest[0] is field 3 (state): pgrp is field 5, utime 14, stime 15.
  const pgrp = Number(rest[2]);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return { pid, comm, pgrp, cpuMs: ((utime + stime) * 1000) / clockTicks() };
}

/** Resident set size in bytes (VmRSS), or null when the process is gone. */
export function rssBytes(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Every process of a process group (e.g. wrangler's, whose id is wrangler's PID). */
export function processGroup(pgid: number): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (stat !== null && stat.pgrp === pgid) out.push(stat);
  }
  return out;
}

/** The workerd processes that a `wrangler dev` (by its PID) runs. */
export function workerdProcesses(wranglerPid: number): ProcStat[] {
  return processGroup(wranglerPid).filter((p) => p.comm === "workerd");
}

/** The command line of a process (NUL-separated arguments), or [] when it is gone. */
export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((a) => a !== "");
  } catch {
    return [];
  }
}

/**
 * Time the process's threads spent runnable but waiting for a CPU (run-queue delay, from
 * /proc/<pid>/task/<tid>/schedstat), in milliseconds: CPU a process wanted and did not get because
 * other processes had the cores. 0 when the process is gone.
 */
export function runQueueWaitMs(pid: number): number {
  let total = 0;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tasks) {
    try {
      const fields = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").trim().split(/\s+/);
      total += Number(fields[1]) / 1e6;
    } catch {
      // the thread ended
    }
  }
  return total;
}
