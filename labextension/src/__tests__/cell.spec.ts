import { loadsExtension, quoteName, runCellText, runLine } from '../cell';

describe('the %ratchet run cell', () => {
  it('writes the input as compact JSON on one line', () => {
    expect(runLine('greet', { name: 'Playwright' })).toBe('%ratchet run greet --input {"name":"Playwright"}');
    expect(runLine('greet', { text: 'a\nb' })).toBe('%ratchet run greet --input {"text":"a\\nb"}');
  });

  it('quotes a name with spaces, quotes or a leading brace', () => {
    expect(quoteName('my-task.v2')).toBe('my-task.v2');
    expect(quoteName('my task')).toBe('"my task"');
    expect(quoteName('say "hi"')).toBe('"say \\"hi\\""');
    expect(quoteName('back\\slash')).toBe('"back\\\\slash"');
    expect(quoteName('{x}')).toBe('"{x}"');
    expect(runLine('my task', {})).toBe('%ratchet run "my task" --input {}');
  });

  it('starts with %load_ext when the notebook does not load the extension', () => {
    expect(runCellText('greet', { a: 1 }, true)).toBe(
      '%load_ext ratchet_jupyter\n%ratchet run greet --input {"a":1}'
    );
    expect(runCellText('greet', { a: 1 }, false)).toBe('%ratchet run greet --input {"a":1}');
  });

  it('finds %load_ext ratchet_jupyter on a line of any cell', () => {
    expect(loadsExtension([])).toBe(false);
    expect(loadsExtension(['import x', '# %load_ext ratchet_jupyter'])).toBe(false);
    expect(loadsExtension(['import x', 'x = 1\n%load_ext ratchet_jupyter\n'])).toBe(true);
    expect(loadsExtension(['%reload_ext ratchet_jupyter'])).toBe(true);
    expect(loadsExtension(['%load_ext ratchet_jupyter_other'])).toBe(false);
  });
});
