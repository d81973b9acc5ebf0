import { describe, expect, it } from 'vitest';
import { createMarkdown } from '../src/model/markdown';

const md = createMarkdown();

describe('the chat view\'s Markdown', () => {
  it('never lets the model\'s text inject markup or script', () => {
    const html = md.render('Hi <script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3))');
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('href="javascript:');
    expect(html).toContain('&lt;script&gt;');
  });

  it('renders Markdown and highlights fenced code', () => {
    const html = md.render('**bold** and `code`\n\n```python\ndef add(a, b):\n    return a + b\n```\n');
    expect(html).toContain('<strong>bold</strong>');
    expect(html).toContain('<code>code</code>');
    expect(html).toContain('<span class="hljs-keyword">def</span>');
    expect(md.render('[site](https://example.com)')).toContain('href="https://example.com"');
  });
});
