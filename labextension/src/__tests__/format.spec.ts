import { formatDuration, formatStatus, prettyJson, sourceLabel, statusTone } from '../format';

describe('format', () => {
  it('formats durations in ms, s and min', () => {
    expect(formatDuration(undefined)).toBe('\u2014');
    expect(formatDuration(-1)).toBe('\u2014');
    expect(formatDuration(0.4)).toBe('0 ms');
    expect(formatDuration(850.6)).toBe('851 ms');
    expect(formatDuration(1250)).toBe('1.25 s');
    expect(formatDuration(12_340)).toBe('12.3 s');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
    expect(formatDuration(120_000)).toBe('2 min');
  });

  it('gives statuses a tone and a label', () => {
    expect(statusTone('success')).toBe('ok');
    expect(statusTone('timeout')).toBe('error');
    expect(statusTone('running')).toBe('busy');
    expect(statusTone(null)).toBe('none');
    expect(formatStatus(null)).toBe('never run');
    expect(formatStatus('failed')).toBe('failed');
  });

  it('pretty-prints JSON', () => {
    expect(prettyJson({ a: [1] })).toBe('{\n  "a": [\n    1\n  ]\n}');
    expect(prettyJson(undefined)).toBe('null');
  });

  it('shows a source by the last part of its path or URL', () => {
    expect(sourceLabel(null)).toBe('notebook');
    expect(sourceLabel('/srv/tasks/')).toBe('tasks');
    expect(sourceLabel('C:\\tasks\\shared')).toBe('shared');
    expect(sourceLabel('git+https://github.com/org/tasks.git@main')).toBe('tasks.git@main');
  });
});
