// Finds a key repeated inside one JSON object, at any depth. JSON.parse keeps the last of them
// silently, so a signed document could say two things at once; callers refuse such a document.

export interface DuplicateKey {
  /** The key as JSON.parse decodes it ("\u0076ersion" is "version"). */
  readonly key: string;
  /** Where the second one sits, e.g. `version`, `payload.url`, `payload.chunks[2].size`. */
  readonly path: string;
}

type Frame = { kind: 'object'; keys: Set<string>; key: string | null; expectKey: boolean } | { kind: 'array'; index: number };

/**
 * The first repeated key in `text`, or null. `text` must already be valid JSON (JSON.parse it first):
 * this pass only tracks structure and object keys, it does not validate.
 */
export function findDuplicateKey(text: string): DuplicateKey | null {
  const stack: Frame[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const top = stack.at(-1);
    if (c === '"') {
      const end = stringEnd(text, i);
      if (top?.kind === 'object' && top.expectKey) {
        const key = JSON.parse(text.slice(i, end)) as string;
        if (top.keys.has(key)) return { key, path: pathOf(stack, key) };
        top.keys.add(key);
        top.key = key;
        top.expectKey = false;
      }
      i = end;
      continue;
    }
    if (c === '{') stack.push({ kind: 'object', keys: new Set(), key: null, expectKey: true });
    else if (c === '[') stack.push({ kind: 'array', index: 0 });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',' && top !== undefined) {
      if (top.kind === 'object') top.expectKey = true;
      else top.index++;
    }
    i++;
  }
  return null;
}

/** The index just past the string that opens at `start`, skipping escaped quotes and backslashes. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

function pathOf(stack: readonly Frame[], key: string): string {
  let path = '';
  for (const frame of stack.slice(0, -1)) path += frame.kind === 'array' ? `[${frame.index}]` : segment(frame.key ?? '', path);
  return path + segment(key, path);
}

function segment(key: string, before: string): string {
  if (!/^[A-Za-z_$][\w$]*$/.test(key)) return `[${JSON.stringify(key)}]`;
  return before === '' ? key : `.${key}`;
}
