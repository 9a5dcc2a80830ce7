/**
 * Misspelt settings: a variable that looks like one of ours (it has one of our prefixes) but is
 * not a name we read is almost always a typo (`AUTH_JWKS_URI`), and ignoring it silently changes
 * what the server does (local mode instead of JWKS). Such names get a warning with the closest
 * known name.
 */

/** Prefixes (and whole names) of this server's settings. */
const OUR_PREFIXES = ['AUTH_', 'INSECURE_', 'REDIS_', 'PORTKEY_', 'TENANT', 'RATE_LIMIT_', 'ALLOWED_', 'LOG_', 'SHUTDOWN_', 'HTTP_', 'PUBLIC_', 'TRUST_', 'EXPOSED_'];

/**
 * Names with our prefixes that are not settings: tenant keys referenced by `{"env": …}`
 * (documented prefix `PORTKEY_KEY_`), and the usual proxy variable other tools read.
 */
const NOT_OURS = [/^PORTKEY_KEY_/, /^HTTP_PROXY$/];

/** Warnings for variables that look like settings of ours but are not (names only, never values). */
export function unknownVariableWarnings(names: Iterable<string>, known: readonly string[]): string[] {
  const knownSet = new Set(known);
  const warnings: string[] = [];
  for (const name of names) {
    const upper = name.toUpperCase();
    if (knownSet.has(name) || !OUR_PREFIXES.some((p) => upper.startsWith(p)) || NOT_OURS.some((re) => re.test(upper))) continue;
    const closest = closestName(upper, known);
    warnings.push(
      closest
        ? `${name} is not a setting this server reads (ignored); did you mean ${closest}?`
        : `${name} is not a setting this server reads (ignored); see docs/configuration.md for the names.`,
    );
  }
  return warnings;
}

/** The known name nearest to `name`, when it is near enough to be a likely typo. */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  // A third of the name may differ (AUTH_JWKS_URI → AUTH_JWKS_URL is 1; a wholly different name is not a typo).
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** Optimal string alignment distance (Damerau–Levenshtein with adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
