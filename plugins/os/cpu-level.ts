/** x86-64 micro-architecture levels from /proc/cpuinfo flags (psABI definitions). */

// cpuinfo spells some features differently: SSE3 is "pni", LZCNT is reported as "abm".
const V2 = ['cx16', 'lahf_lm', 'popcnt', 'pni', 'sse4_1', 'sse4_2', 'ssse3'];
const V3 = ['avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'abm', 'movbe', 'xsave'];
const V4 = ['avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl'];

export interface CpuFacts {
  /** From the first "flags" line; undefined when cpuinfo is unreadable. */
  flags?: string[];
  /** 1-4, or null when unknown (no cpuinfo, not x86). */
  x86_64Level: number | null;
  x86_64V3: boolean | null;
  /** v3 features the CPU lacks (what the preflight reports). */
  missingForV3: string[];
  /** vmx (Intel VT-x) or svm (AMD-V) present: hardware virtualization exposed to this OS. */
  virtualization: 'vmx' | 'svm' | null;
  cores: number;
}

export function cpuFactsFrom(cpuinfo: string | undefined): CpuFacts {
  if (cpuinfo === undefined) return { x86_64Level: null, x86_64V3: null, missingForV3: [], virtualization: null, cores: 0 };
  const flagsLine = /^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1];
  const cores = (cpuinfo.match(/^processor\s*:/gm) ?? []).length;
  if (flagsLine === undefined) return { x86_64Level: null, x86_64V3: null, missingForV3: [], virtualization: null, cores };
  const flags = flagsLine.trim().split(/\s+/);
  const has = new Set(flags);
  const missing = (wanted: readonly string[]): string[] => wanted.filter((flag) => !has.has(flag));
  const missingForV3 = [...missing(V2), ...missing(V3)];
  const level = !has.has('lm') ? null : missing(V2).length > 0 ? 1 : missing(V3).length > 0 ? 2 : missing(V4).length > 0 ? 3 : 4;
  return {
    flags,
    x86_64Level: level,
    x86_64V3: level === null ? null : level >= 3,
    missingForV3: level === null ? [] : missingForV3,
    virtualization: has.has('vmx') ? 'vmx' : has.has('svm') ? 'svm' : null,
    cores,
  };
}
