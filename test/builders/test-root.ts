// A minimal host root directory for cloud-config applies: passwd, group, shadow and gshadow with
// root and the "core" user (500), the host's login.defs for useradd, and systemd's unit directory.

import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export async function makeTestRoot(root: string): Promise<void> {
  await mkdir(join(root, 'etc', 'systemd', 'system'), { recursive: true });
  await mkdir(join(root, 'home', 'core'), { recursive: true });
  await writeFile(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/bash\ncore:x:500:500:CoreOS Admin:/home/core:/bin/bash\n');
  await writeFile(join(root, 'etc', 'group'), 'root:x:0:\nsudo:x:27:\ncore:x:500:\n');
  await writeFile(join(root, 'etc', 'shadow'), 'root:*:19000:0:99999:7:::\ncore:*:19000:0:99999:7:::\n', { mode: 0o640 });
  await writeFile(join(root, 'etc', 'gshadow'), 'root:*::\nsudo:*::\ncore:!::\n', { mode: 0o640 });
  await copyFile('/etc/login.defs', join(root, 'etc', 'login.defs'));
}
