// Version ordering as semver defines it, for any number of numeric parts (Flatcar's 3510.2.0 and
// 1.10 alike): 1.10 > 1.9, 1.0.0-rc.1 < 1.0.0, build metadata ignored. The semver package only
// accepts exactly three parts, hence our own.

function split(version: string): { numbers: number[]; pre: string[] } {
  const withoutBuild = version.split('+', 1)[0] ?? version;
  const dash = withoutBuild.indexOf('-');
  const core = dash < 0 ? withoutBuild : withoutBuild.slice(0, dash);
  const pre = dash < 0 ? [] : withoutBuild.slice(dash + 1).split('.');
  return { numbers: core.split('.').map(Number), pre };
}

function comparePre(a: string[], b: string[]): number {
  if (a.length === 0 || b.length === 0) return b.length - a.length; // a release outranks its pre-releases
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const xNum = /^\d+$/.test(x);
    const yNum = /^\d+$/.test(y);
    if (xNum && yNum && Number(x) !== Number(y)) return Number(x) < Number(y) ? -1 : 1;
    if (xNum !== yNum) return xNum ? -1 : 1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Negative when a < b, 0 when equal, positive when a > b. Missing numeric parts count as 0. */
export function compareVersions(a: string, b: string): number {
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < Math.max(x.numbers.length, y.numbers.length); i++) {
    const diff = (x.numbers[i] ?? 0) - (y.numbers[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  return comparePre(x.pre, y.pre);
}
