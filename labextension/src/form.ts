/**
 * A form model built from a task's input JSON Schema, and the input JSON read back from the form.
 *
 * Pure logic (no DOM): the run form renders the fields, this module decides what they are and
 * turns their text back into JSON with an error per field. A schema it cannot model (not an
 * object with properties, or combinators such as `oneOf` at the top) becomes one raw-JSON field.
 */
import { JSONValue } from './tokens';

/** How a field is edited: a text box, a number box, a checkbox, a choice or a JSON textarea. */
export type FieldKind = 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'json';

/** One field of the form. */
export interface IFormField {
  /** The property name (`RAW_FIELD` for the raw-JSON field). */
  name: string;
  kind: FieldKind;
  label: string;
  description: string;
  required: boolean;
  /** The initial value: text for every kind but `boolean`. */
  initial: string | boolean;
  /** `enum`: the allowed values. */
  options?: JSONValue[];
  /** `json`: the JSON type the text must parse to (`undefined`: any JSON). */
  jsonType?: 'object' | 'array';
}

/** A form: its fields, and whether it is the single raw-JSON textarea. */
export interface IFormModel {
  raw: boolean;
  fields: IFormField[];
}

/** The values of a form's fields, by field name. */
export type FormValues = { [name: string]: string | boolean };

/** The input read from a form: the JSON, or the errors by field name. */
export interface IFormResult {
  input: JSONValue;
  errors: { [name: string]: string };
}

/** The name of the single field of a raw-JSON form. */
export const RAW_FIELD = '$input';

type Schema = { [key: string]: unknown };

const COMBINATORS = ['oneOf', 'anyOf', 'allOf', '$ref', 'if', 'not'];

function isObject(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The one non-null JSON type of a property (`["string", "null"]` counts as `string`). */
function typeOf(property: Schema): string | undefined {
  const type = property.type;
  if (typeof type === 'string') {
    return type;
  }
  if (Array.isArray(type)) {
    const types = type.filter(t => t !== 'null');
    return types.length === 1 && typeof types[0] === 'string' ? types[0] : undefined;
  }
  if (isObject(property.properties)) {
    return 'object';
  }
  return undefined;
}

function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

function fieldOf(name: string, property: Schema, required: boolean): IFormField {
  const label = typeof property.title === 'string' ? property.title : name;
  const description = typeof property.description === 'string' ? property.description : '';
  const base = { name, label, description, required };
  const fallback = property.default;
  if (Array.isArray(property.enum) && property.enum.length > 0) {
    const options = property.enum as JSONValue[];
    const initial =
      fallback !== undefined ? JSON.stringify(fallback) : required ? JSON.stringify(options[0]) : '';
    return { ...base, kind: 'enum', initial, options };
  }
  const type = typeOf(property);
  switch (type) {
    case 'string':
      return { ...base, kind: 'string', initial: typeof fallback === 'string' ? fallback : '' };
    case 'number':
    case 'integer':
      return { ...base, kind: type, initial: typeof fallback === 'number' ? String(fallback) : '' };
    case 'boolean':
      return { ...base, kind: 'boolean', initial: fallback === true };
    case 'array':
    case 'object':
      return {
        ...base,
        kind: 'json',
        jsonType: type,
        initial: fallback !== undefined ? pretty(fallback) : required ? (type === 'array' ? '[]' : '{}') : ''
      };
    default:
      return { ...base, kind: 'json', initial: fallback !== undefined ? pretty(fallback) : '' };
  }
}

/** The raw-JSON form of a schema the model cannot show as fields. */
function rawForm(schema: unknown): IFormModel {
  let initial = '{}';
  if (isObject(schema)) {
    if (schema.default !== undefined) {
      initial = pretty(schema.default);
    } else if (schema.type === 'array') {
      initial = '[]';
    }
  }
  const field: IFormField = {
    name: RAW_FIELD,
    kind: 'json',
    label: 'Input (JSON)',
    description: '',
    required: true,
    initial
  };
  return { raw: true, fields: [field] };
}

/** The form of a task's input schema. */
export function formModel(schema: unknown): IFormModel {
  if (!isObject(schema) || COMBINATORS.some(key => key in schema)) {
    return rawForm(schema);
  }
  const properties = schema.properties;
  if (typeOf(schema) !== 'object' || !isObject(properties) || Object.keys(properties).length === 0) {
    return rawForm(schema);
  }
  const required = new Set(Array.isArray(schema.required) ? (schema.required as unknown[]) : []);
  const fields: IFormField[] = [];
  for (const [name, property] of Object.entries(properties)) {
    fields.push(fieldOf(name, isObject(property) ? property : {}, required.has(name)));
  }
  return { raw: false, fields };
}

/** The initial values of a form's fields. */
export function initialValues(model: IFormModel): FormValues {
  const values: FormValues = {};
  for (const field of model.fields) {
    values[field.name] = field.initial;
  }
  return values;
}

/**
 * Read one field: its JSON value, `undefined` to leave it out, or an error message.
 *
 * An empty optional field is left out (a string of spaces is kept: it is a value); an empty
 * required one is an error. A checkbox always gives `true` or `false`.
 */
function readField(
  field: IFormField,
  value: string | boolean | undefined
): { value?: JSONValue; error?: string } {
  if (field.kind === 'boolean') {
    return { value: value === true };
  }
  const text = typeof value === 'string' ? value : '';
  if (text.trim() === '') {
    if (field.kind === 'string' && text !== '') {
      return { value: text };
    }
    return field.required ? { error: 'required' } : {};
  }
  switch (field.kind) {
    case 'string':
      return { value: text };
    case 'number':
    case 'integer': {
      const number = Number(text.trim());
      if (!Number.isFinite(number)) {
        return { error: `not a number: ${text.trim()}` };
      }
      if (field.kind === 'integer' && !Number.isInteger(number)) {
        return { error: `not an integer: ${text.trim()}` };
      }
      return { value: number };
    }
    case 'enum': {
      try {
        return { value: JSON.parse(text) as JSONValue };
      } catch {
        return { error: `not one of the choices: ${text}` };
      }
    }
    default: {
      let parsed: JSONValue;
      try {
        parsed = JSON.parse(text) as JSONValue;
      } catch (error) {
        return { error: `invalid JSON: ${(error as Error).message}` };
      }
      if (field.jsonType === 'array' && !Array.isArray(parsed)) {
        return { error: 'expected a JSON array' };
      }
      if (
        field.jsonType === 'object' &&
        (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      ) {
        return { error: 'expected a JSON object' };
      }
      return { value: parsed };
    }
  }
}

/** The input JSON of a form's values, with an error per field that cannot be read. */
export function formInput(model: IFormModel, values: FormValues): IFormResult {
  const errors: { [name: string]: string } = {};
  if (model.raw) {
    const field = model.fields[0];
    const read = readField(field, values[field.name]);
    if (read.error !== undefined) {
      errors[field.name] = read.error;
    }
    return { input: read.value ?? null, errors };
  }
  const input: { [key: string]: JSONValue } = {};
  for (const field of model.fields) {
    const read = readField(field, values[field.name]);
    if (read.error !== undefined) {
      errors[field.name] = read.error;
    } else if (read.value !== undefined) {
      input[field.name] = read.value;
    }
  }
  return { input, errors };
}

/** Whether a form result has no errors. */
export function isValid(result: IFormResult): boolean {
  return Object.keys(result.errors).length === 0;
}
