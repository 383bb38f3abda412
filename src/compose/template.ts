/**
 * Rendering the composition's template: the same conventions as the bootstrap
 * templates (src/envoy/bootstrap.ts): an isolated Handlebars instance in
 * strict mode (a misspelt variable is an error), no HTML escaping, and every
 * value written through `{{json x}}`, a JSON literal, which is also a valid
 * double-quoted YAML scalar, so no value can break the YAML.
 */
import * as fs from 'node:fs';
import Handlebars from 'handlebars';

const hbs = Handlebars.create();
hbs.registerHelper('json', (value: unknown) => new hbs.SafeString(JSON.stringify(value)));

const compiled = new Map<string, { source: string; fn: HandlebarsTemplateDelegate }>();

export function renderTemplate(file: string, view: Record<string, unknown>): string {
  const source = fs.readFileSync(file, 'utf8');
  let hit = compiled.get(file);
  if (!hit || hit.source !== source) {
    hit = { source, fn: hbs.compile(source, { strict: true, noEscape: true }) };
    compiled.set(file, hit);
  }
  return hit.fn(view);
}
