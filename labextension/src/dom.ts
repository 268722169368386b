/**
 * A small helper for building the panel's plain DOM.
 */

type Attributes = { [name: string]: string | number | boolean | undefined | null };
type Child = Node | string | null | undefined | false;

/**
 * An element with attributes and children: `h('button', {class: 'x', 'data-testid': 'run'}, 'Run')`.
 *
 * `class` sets the class name, `text` the text content; `false`/`null`/`undefined` attributes and
 * children are skipped, `true` attributes are set empty (e.g. `disabled`).
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) {
      continue;
    }
    if (name === 'class') {
      element.className = String(value);
    } else if (name === 'text') {
      element.textContent = String(value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      element.append(child);
    }
  }
  return element;
}

/** Remove every child of `element` and append `children`. */
export function replaceChildren(element: HTMLElement, ...children: Child[]): void {
  element.textContent = '';
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      element.append(child);
    }
  }
}

/** A short text for an error (a `RatchetApiError` shows its type and the server's message). */
export function errorText(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'reason' in error && 'type' in error) {
    const e = error as { type: string; reason: string; details?: { [key: string]: unknown } };
    const at = e.details?.path;
    const path = typeof at === 'string' && !e.reason.includes(at) ? ` (at ${at})` : '';
    return `${e.type}: ${e.reason}${path}`;
  }
  return error instanceof Error ? error.message : String(error);
}
