/**
 * Diagnostic formatters: text (file:line:col: severity CODE: message), json,
 * SARIF 2.1.0 (code-scanning upload) and GitHub workflow annotations.
 */
import { CODES } from './codes';
import { escapeControls } from './excerpt';
import { sortDiagnostics, type Diagnostic } from './diagnostic';

export type DiagFormat = 'text' | 'json' | 'sarif' | 'github';
export const DIAG_FORMATS: readonly DiagFormat[] = ['text', 'json', 'sarif', 'github'];

export function formatDiagnostics(diags: readonly Diagnostic[], format: DiagFormat, toolVersion = '0.0.0'): string {
  const sorted = sortDiagnostics(diags);
  switch (format) {
    case 'text':
      return sorted.map(formatText).join('');
    case 'json':
      return JSON.stringify({ diagnostics: sorted, summary: summary(sorted) }, null, 2) + '\n';
    case 'sarif':
      return JSON.stringify(toSarif(sorted, toolVersion), null, 2) + '\n';
    case 'github':
      return sorted.map(formatGithub).join('');
  }
}

/** Text for a terminal: messages quote file names and keys from files, so control characters are escaped. */
export function formatText(d: Diagnostic): string {
  const hint = d.hint ? `\n  hint: ${escapeControls(d.hint)}` : '';
  return `${escapeControls(d.file)}:${d.line}:${d.col}: ${d.severity} ${d.code}: ${escapeControls(d.message)}${hint}\n`;
}

export function summary(diags: readonly Diagnostic[]): { errors: number; warnings: number; infos: number } {
  return {
    errors: diags.filter((d) => d.severity === 'error').length,
    warnings: diags.filter((d) => d.severity === 'warning').length,
    infos: diags.filter((d) => d.severity === 'info').length,
  };
}

// https://docs.github.com/actions/reference/workflow-commands-for-github-actions#setting-an-error-message
function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

function formatGithub(d: Diagnostic): string {
  const level = d.severity === 'error' ? 'error' : d.severity === 'warning' ? 'warning' : 'notice';
  const props = [`file=${escapeProperty(escapeControls(d.file))}`, `line=${d.line}`, `col=${d.col}`];
  if (d.endLine !== undefined) props.push(`endLine=${d.endLine}`);
  props.push(`title=${escapeProperty(d.code)}`);
  const msg = d.hint ? `${d.message} (hint: ${d.hint})` : d.message;
  return `::${level} ${props.join(',')}::${escapeData(escapeControls(msg, true))}\n`;
}

function toSarif(diags: readonly Diagnostic[], version: string): unknown {
  const ruleIds = [...new Set(diags.map((d) => d.code))].sort();
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'hms-svc',
            version,
            informationUri: 'https://github.com/hms-svc/hms-svc/blob/main/docs/diagnostics.md',
            rules: ruleIds.map((id) => ({
              id,
              shortDescription: { text: CODES.get(id)?.title ?? id },
              helpUri: `https://github.com/hms-svc/hms-svc/blob/main/docs/diagnostics.md#${id.toLowerCase()}`,
              defaultConfiguration: { level: sarifLevel(CODES.get(id)?.severity ?? 'error') },
            })),
          },
        },
        results: diags.map((d) => ({
          ruleId: d.code,
          ruleIndex: ruleIds.indexOf(d.code),
          level: sarifLevel(d.severity),
          message: { text: d.hint ? `${d.message}\nhint: ${d.hint}` : d.message },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: d.file.split('\\').join('/') },
                region: {
                  startLine: Math.max(1, d.line),
                  startColumn: Math.max(1, d.col),
                  ...(d.endLine !== undefined ? { endLine: d.endLine, endColumn: d.endCol } : {}),
                },
              },
            },
          ],
        })),
      },
    ],
  };
}

function sarifLevel(s: string): 'error' | 'warning' | 'note' {
  return s === 'error' ? 'error' : s === 'warning' ? 'warning' : 'note';
}
