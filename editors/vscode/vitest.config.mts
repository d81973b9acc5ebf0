import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { include: ['test/**/*.test.ts'], environment: 'node' },
  // unit tests of modules that import `vscode` get a stand-in (test/stubs/vscode.ts)
  resolve: { alias: { vscode: fileURLToPath(new URL('./test/stubs/vscode.ts', import.meta.url)) } },
});
