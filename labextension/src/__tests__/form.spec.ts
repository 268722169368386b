import { RAW_FIELD, formInput, formModel, initialValues, isValid } from '../form';

const schema = {
  type: 'object',
  required: ['name', 'count', 'mode'],
  properties: {
    name: { type: 'string', title: 'Name', description: 'who to greet' },
    count: { type: 'integer', default: 3 },
    ratio: { type: 'number' },
    loud: { type: 'boolean', default: true },
    mode: { enum: ['short', 'long', 2] },
    tags: { type: 'array', items: { type: 'string' } },
    options: { type: 'object', default: { a: 1 } },
    nickname: { type: ['string', 'null'] }
  }
};

describe('formModel', () => {
  it('turns each property into a field with its kind, default and required flag', () => {
    const model = formModel(schema);

    expect(model.raw).toBe(false);
    expect(model.fields.map(f => [f.name, f.kind, f.required, f.initial])).toEqual([
      ['name', 'string', true, ''],
      ['count', 'integer', true, '3'],
      ['ratio', 'number', false, ''],
      ['loud', 'boolean', false, true],
      ['mode', 'enum', true, '"short"'],
      ['tags', 'json', false, ''],
      ['options', 'json', false, '{\n  "a": 1\n}'],
      ['nickname', 'string', false, '']
    ]);
    expect(model.fields[0].label).toBe('Name');
    expect(model.fields[0].description).toBe('who to greet');
    expect(model.fields[4].options).toEqual(['short', 'long', 2]);
    expect(model.fields[5].jsonType).toBe('array');
  });

  it.each([
    ['no schema', undefined],
    ['a boolean schema', true],
    ['a string schema', { type: 'string' }],
    ['an object without properties', { type: 'object' }],
    ['a oneOf', { oneOf: [{ type: 'object', properties: { a: { type: 'string' } } }] }],
    ['a $ref', { $ref: '#/definitions/x', properties: { a: {} } }]
  ])('models %s as one raw-JSON field', (_label, input) => {
    const model = formModel(input);

    expect(model.raw).toBe(true);
    expect(model.fields).toHaveLength(1);
    expect(model.fields[0]).toMatchObject({ name: RAW_FIELD, kind: 'json', required: true, initial: '{}' });
  });

  it('starts a raw array schema with [] and a schema default with the default', () => {
    expect(formModel({ type: 'array' }).fields[0].initial).toBe('[]');
    expect(formModel({ type: 'integer', default: 4 }).fields[0].initial).toBe('4');
  });
});

describe('formInput', () => {
  const model = formModel(schema);

  it('reads the values into input JSON, leaving empty optional fields out', () => {
    const values = { ...initialValues(model), name: 'Playwright', ratio: ' 0.5 ', tags: '["x"]' };

    const result = formInput(model, values);

    expect(isValid(result)).toBe(true);
    expect(result.input).toEqual({
      name: 'Playwright',
      count: 3,
      ratio: 0.5,
      loud: true,
      mode: 'short',
      tags: ['x'],
      options: { a: 1 }
    });
  });

  it('keeps enum values of any JSON type', () => {
    const result = formInput(model, { ...initialValues(model), name: 'x', mode: '2' });
    expect((result.input as { mode: unknown }).mode).toBe(2);
  });

  it('reports an error per bad field', () => {
    const values = {
      ...initialValues(model),
      name: '',
      count: '2.5',
      ratio: 'abc',
      tags: '{"not": "an array"}',
      options: '{bad json'
    };

    const result = formInput(model, values);

    expect(isValid(result)).toBe(false);
    expect(Object.keys(result.errors).sort()).toEqual(['count', 'name', 'options', 'ratio', 'tags']);
    expect(result.errors.name).toBe('required');
    expect(result.errors.count).toBe('not an integer: 2.5');
    expect(result.errors.ratio).toBe('not a number: abc');
    expect(result.errors.tags).toBe('expected a JSON array');
    expect(result.errors.options).toMatch(/^invalid JSON: /);
  });

  it('reads a raw form as any JSON, or an error', () => {
    const raw = formModel({ type: 'array' });

    expect(formInput(raw, { [RAW_FIELD]: '[1, {"a": null}]' })).toEqual({
      input: [1, { a: null }],
      errors: {}
    });
    expect(formInput(raw, { [RAW_FIELD]: '[1,' }).errors[RAW_FIELD]).toMatch(/^invalid JSON/);
    expect(formInput(raw, { [RAW_FIELD]: '  ' }).errors[RAW_FIELD]).toBe('required');
  });
});
