/**
 * The text of the notebook cell that runs a task: `%ratchet run NAME --input {...}`.
 *
 * The magic's argument splitter keeps a JSON literal after `--input` whole, so compact JSON needs
 * no quoting; a name with white space or quotes is double-quoted (backslash escapes `"` and `\`).
 */
import { JSONValue } from './tokens';

/** The line that loads the extension in a kernel. */
export const LOAD_EXT_LINE = '%load_ext ratchet_jupyter';

/** A task name as one word of a magic's line. */
export function quoteName(name: string): string {
  if (name !== '' && !/[\s'"\\]/.test(name) && !/^[{[]/.test(name)) {
    return name;
  }
  return `"${name.replace(/[\\"]/g, ch => `\\${ch}`)}"`;
}

/** `%ratchet run NAME --input {...}` (JSON compact, on one line). */
export function runLine(name: string, input: JSONValue): string {
  return `%ratchet run ${quoteName(name)} --input ${JSON.stringify(input)}`;
}

/** Whether a notebook's cell sources already load the extension (`%load_ext ratchet_jupyter`). */
export function loadsExtension(sources: string[]): boolean {
  return sources.some(source =>
    source.split('\n').some(line => /^\s*%(load_ext|reload_ext)\s+ratchet_jupyter\s*$/.test(line))
  );
}

/** The cell that runs a task: preceded by `%load_ext ratchet_jupyter` when the notebook lacks it. */
export function runCellText(name: string, input: JSONValue, withLoadExt: boolean): string {
  const line = runLine(name, input);
  return withLoadExt ? `${LOAD_EXT_LINE}\n${line}` : line;
}
