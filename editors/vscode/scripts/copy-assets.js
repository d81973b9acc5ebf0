// Copy what the chat view's page loads into out/ (the .vsix ships out/, not node_modules/).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const ext = path.join(__dirname, '..');
const out = path.join(ext, 'out');
fs.mkdirSync(out, { recursive: true });
const copies = [
  ['src/webview/chat.css', 'webview.css'],
  ['node_modules/@vscode/codicons/dist/codicon.css', 'codicon.css'],
  ['node_modules/@vscode/codicons/dist/codicon.ttf', 'codicon.ttf'],
];
for (const [from, to] of copies) fs.copyFileSync(path.join(ext, from), path.join(out, to));
