function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    let diagonal = previous[0] ?? 0;
    previous[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const above = previous[j] ?? 0;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      previous[j] = Math.min(above + 1, (previous[j - 1] ?? 0) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return previous[b.length] ?? 0;
}

/** Closest candidates to a misspelt name, nearest first; empty when nothing is close. */
export function nearestNames(name: string, candidates: Iterable<string>, limit = 3): string[] {
  const lowered = name.toLowerCase();
  return [...candidates]
    .map((candidate) => ({ candidate, distance: editDistance(lowered, candidate.toLowerCase()) }))
    .filter(({ candidate, distance }) => distance <= Math.max(2, Math.floor(candidate.length / 3)) || candidate.includes(lowered))
    .sort((a, b) => a.distance - b.distance || a.candidate.localeCompare(b.candidate))
    .slice(0, limit)
    .map(({ candidate }) => candidate);
}

export function didYouMean(name: string, candidates: Iterable<string>): string {
  const near = nearestNames(name, candidates);
  if (near.length === 0) return '';
  return ` (did you mean ${near.map((candidate) => `"${candidate}"`).join(' or ')}?)`;
}
