/**
 * The text of a source line a provenance points at, so a reviewer sees
 * `mesh_policies.yml:27:5  request: 3s` rather than a bare position. Files
 * are read from where the mesh really is (a temp folder for a git revision)
 * while positions name it as the user did.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SourcePos } from '../diag/diagnostic';

export class SourceLines {
  private readonly cache = new Map<string, readonly string[] | undefined>();

  /** `realDir`: where the files are; `displayDir`: how positions name that folder. */
  constructor(
    private readonly realDir: string,
    private readonly displayDir: string,
  ) {}

  /** The trimmed line, or undefined when the file or line does not exist. */
  line(pos: SourcePos): string | undefined {
    const lines = this.linesOf(pos.file);
    const text = lines?.[pos.line - 1];
    return text === undefined ? undefined : text.trim();
  }

  private linesOf(displayFile: string): readonly string[] | undefined {
    if (!this.cache.has(displayFile)) {
      const real = path.join(this.realDir, path.relative(this.displayDir, displayFile));
      let lines: string[] | undefined;
      try {
        lines = fs.readFileSync(real, 'utf8').split(/\r?\n/);
      } catch {
        lines = undefined;
      }
      this.cache.set(displayFile, lines);
    }
    return this.cache.get(displayFile);
  }
}
