/** JSON and YAML text parsing with errors that give the line and column (browser-safe). */
import { parseDocument } from 'yaml';
import { UserError } from '../errors.js';

/** Line and column (1-based) of a character offset in a text. */
export function lineCol(text: string, pos: number): { line: number; col: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < pos && i < text.length; i++) if (text.charCodeAt(i) === 10) { line++; last = i; }
  return { line, col: pos - last };
}

/** Parses JSON text; errors give the line and column. */
export function parseJsonText(text: string, label: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    let where = '';
    if (m) {
      const { line, col } = lineCol(text, Number(m[1]));
      where = ` at line ${line}, column ${col}`;
    } else if (/Unexpected end/.test(msg)) {
      const { line, col } = lineCol(text, text.length);
      where = ` at line ${line}, column ${col} (end of file)`;
    }
    throw new UserError(`${label}: invalid JSON${where}: ${msg}`);
  }
}

/** Parses YAML text (strict: duplicate keys are errors); errors give the line and column. */
export function parseYamlText(text: string, label: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const lp = e.linePos?.[0];
    const where = lp ? ` at line ${lp.line}, column ${lp.col}` : '';
    const first = e.message.split('\n')[0];
    throw new UserError(`${label}: invalid YAML${where}: ${first}`);
  }
  return doc.toJS();
}
