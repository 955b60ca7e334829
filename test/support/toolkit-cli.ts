/**
 * The Microsoft 365 Agents Toolkit CLI, installed once into a git-ignored cache folder for the
 * tests that run the Toolkit's own code on the committed Toolkit files. It is a large package
 * (hundreds of MB): installing it here keeps it out of everyone's `npm install`. Lifecycle
 * scripts are not run (`--ignore-scripts`); only its JavaScript modules are loaded.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const TOOLKIT_CLI = '@microsoft/m365agentstoolkit-cli';
export const TOOLKIT_CLI_VERSION = '1.1.17';

const ROOT = path.resolve(__dirname, '..', '..');
/** Overridable, so that a CI cache (or another checkout's) can be reused. */
const CACHE = process.env.TOOLKIT_CLI_CACHE ?? path.join(ROOT, '.cache', 'toolkit-cli');

function installedVersion(): string | undefined {
  const manifest = path.join(CACHE, 'node_modules', TOOLKIT_CLI, 'package.json');
  if (!existsSync(manifest)) return undefined;
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: string }).version;
}

/** The folder of the Toolkit's core modules (`@microsoft/teamsfx-core/build`), installed if needed. */
export async function ensureToolkitCore(): Promise<string> {
  if (installedVersion() !== TOOLKIT_CLI_VERSION) {
    mkdirSync(CACHE, { recursive: true });
    await new Promise<void>((resolve, reject) => {
      execFile(
        process.platform === 'win32' ? 'npm.cmd' : 'npm',
        [
          'install',
          '--prefix',
          CACHE,
          '--ignore-scripts',
          '--no-audit',
          '--no-fund',
          '--no-save',
          '--loglevel=error',
          `${TOOLKIT_CLI}@${TOOLKIT_CLI_VERSION}`,
        ],
        { cwd: CACHE, maxBuffer: 16 * 1024 * 1024 },
        (error, _stdout, stderr) =>
          error ? reject(new Error(`npm could not install ${TOOLKIT_CLI}: ${stderr}`)) : resolve(),
      );
    });
    if (installedVersion() !== TOOLKIT_CLI_VERSION) {
      throw new Error(`${TOOLKIT_CLI}@${TOOLKIT_CLI_VERSION} is not in ${CACHE} after npm install`);
    }
  }
  return path.join(CACHE, 'node_modules', '@microsoft', 'teamsfx-core', 'build');
}
