import { describe, expect, it } from 'vitest';
import { createMarkdown, settledLength } from '../src/model/markdown';

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

describe('streamed Markdown: the settled part', () => {
  it('ends at the last blank line outside a code fence, and rendering it apart gives the same page', () => {
    const text = 'Para one.\n\n- a\n- b\n\n```py\nx = 1\n\ny = 2\n```\n\nPara two is still bei';
    const n = settledLength(text);
    expect(text.slice(0, n)).toBe('Para one.\n\n- a\n- b\n\n```py\nx = 1\n\ny = 2\n```\n\n');
    expect(md.render(text.slice(0, n)) + md.render(text.slice(n))).toBe(md.render(text));
  });

  it('a blank line inside an open fence settles nothing past the fence', () => {
    expect(settledLength('Intro.\n\n```\ncode\n\nmore code')).toBe('Intro.\n\n'.length);
    expect(settledLength('no blank line yet')).toBe(0);
  });
});
