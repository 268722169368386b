/**
 * Formatting for the panel: durations, statuses, timestamps and JSON.
 */

/** `850 ms`, `1.25 s`, `2 min 5 s`; an em dash when unknown. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) {
    return '\u2014';
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  if (ms < 60_000) {
    const seconds = ms / 1000;
    return `${seconds < 10 ? seconds.toFixed(2) : seconds.toFixed(1)} s`;
  }
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
}

/** The tone of a status for styling: ok, error, busy or none. */
export function statusTone(status: string | null | undefined): 'ok' | 'error' | 'busy' | 'none' {
  switch (status) {
    case 'success':
    case 'passed':
    case 'ok':
    case 'loaded':
      return 'ok';
    case 'failed':
    case 'timeout':
    case 'error':
      return 'error';
    case 'pending':
    case 'running':
      return 'busy';
    default:
      return 'none';
  }
}

/** A status as shown: the status itself, or `never run`. */
export function formatStatus(status: string | null | undefined): string {
  return status ? status : 'never run';
}

/** An ISO timestamp in the browser's locale, or an em dash. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) {
    return '\u2014';
  }
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** JSON with two-space indentation (`undefined` shown as `null`). */
export function prettyJson(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value, null, 2);
}

/** A source as shown in a row: the last part of its path or URL (`notebook` for a task defined in one). */
export function sourceLabel(source: string | null | undefined): string {
  if (!source) {
    return 'notebook';
  }
  const parts = source.replace(/[/\\]+$/, '').split(/[/\\]/);
  return parts[parts.length - 1] || source;
}
