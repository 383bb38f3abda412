/**
 * RE2 syntax checks for the regexes of `routes:` (path and header matches).
 * Envoy and proxyless gRPC both evaluate them with RE2 (Envoy: google_re2;
 * grpc-js-xds: the re2-wasm build of the same library), whose syntax is not
 * JavaScript's: no lookaround, no backreferences, repetition counts at most
 * 1000, `(?P<name>)` groups. Checking with JavaScript's RegExp would pass
 * `(?=x)` and fail `(?P<n>x)`, so the check compiles the pattern with the
 * RE2 that grpc-js-xds itself ships (a dependency of @grpc/grpc-js-xds, the
 * pinned client): lint says what the data plane will say.
 *
 * Loaded on first use (a WebAssembly module): a mesh without regexes never
 * pays for it.
 */
import * as path from 'node:path';

interface Re2Ctor {
  new (pattern: string, flags: string): { test(s: string): boolean };
}

let ctor: Re2Ctor | undefined;

function re2(): Re2Ctor {
  if (!ctor) {
    const xdsDir = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ctor = (require(require.resolve('re2-wasm', { paths: [xdsDir] })) as { RE2: Re2Ctor }).RE2;
  }
  return ctor;
}

/** Why RE2 refuses `pattern`, or undefined when it compiles. */
export function re2Error(pattern: string): string | undefined {
  try {
    new (re2())(pattern, 'u');
    return undefined;
  } catch (err) {
    // "Invalid regular expression: /x/u: invalid perl operator: (?=" -> "invalid perl operator: (?="
    const msg = (err as Error).message;
    const i = msg.lastIndexOf('/u: ');
    return i >= 0 ? msg.slice(i + 4) : msg;
  }
}

/** Whether `value` matches all of `pattern` (Envoy's safe_regex semantics: a full match). */
export function re2FullMatch(pattern: string, value: string): boolean {
  let re = compiled.get(pattern);
  if (!re) {
    // Bounded: explain evaluates a handful of patterns; a corpus run reuses them.
    if (compiled.size >= 256) compiled.clear();
    re = new (re2())(`^(?:${pattern})$`, 'u');
    compiled.set(pattern, re);
  }
  return re.test(value);
}

const compiled = new Map<string, { test(s: string): boolean }>();
