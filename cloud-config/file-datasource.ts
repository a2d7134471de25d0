// Datasource adapter for a user-data file on the host (coreos-cloudinit's --from-file).

import { readFile, stat } from 'node:fs/promises';
import { checkUserDataSize } from './datasource.ts';
import { CloudConfigError } from './cloud-config-errors.ts';
import type { Datasource, UserData } from './datasource.ts';

export class FileDatasource implements Datasource {
  readonly name: string;
  private readonly path: string;

  constructor(path: string) {
    this.path = path;
    this.name = `file ${path}`;
  }

  async read(): Promise<UserData | null> {
    try {
      checkUserDataSize((await stat(this.path)).size, this.path);
      return { origin: this.path, text: await readFile(this.path, 'utf8') };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      if (error instanceof CloudConfigError) throw error;
      throw new CloudConfigError('ERR_DATASOURCE', `cannot read user-data file ${this.path}`, { cause: error });
    }
  }
}
